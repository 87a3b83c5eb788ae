import { EncryptJWT, jwtDecrypt } from 'jose';
import * as client from 'openid-client';
import type { Role } from '../access/index.js';
import { ROLES } from '../access/index.js';
import type { OidcConfig } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';

/** The cookie that carries a sign-in from `/auth/oidc/start` to the callback (encrypted: the PKCE verifier is in it). */
export const OIDC_COOKIE = 'hm_oidc';
/** How long a person has at the provider between start and callback. */
const PENDING_SECONDS = 600;

/** Who the OpenID Provider says signed in: its issuer and subject, and the role its claim names, if any. */
export interface OidcIdentity {
  issuer: string;
  subject: string;
  /** The role `auth.oidc.roleClaim` names when it is one of the hub's roles other than admin. */
  claimedRole: Role | undefined;
}

/**
 * Sign-in through the hospital's OpenID Provider with `openid-client`: the authorization code flow with PKCE, state
 * and nonce. Nothing is kept between start and callback on the hub: the state, nonce and verifier travel in a cookie
 * encrypted under the hub's key (so any process of a PostgreSQL hub can take the callback), bound to the browser
 * that started (a callback whose state differs from its cookie's is refused).
 */
export class OidcSignIn {
  private discovered: Promise<client.Configuration> | undefined;

  constructor(
    private readonly config: OidcConfig,
    private readonly pendingKey: Uint8Array,
  ) {}

  /** The provider's authorization URL to send the browser to, and the cookie value to set. */
  async start(): Promise<{ url: string; cookie: string; maxAgeSeconds: number }> {
    const provider = await this.provider();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(provider, {
      redirect_uri: this.config.redirectUri,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const cookie = await new EncryptJWT({ state, nonce, verifier })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuedAt()
      .setExpirationTime(`${PENDING_SECONDS}s`)
      .encrypt(this.pendingKey);
    return { url: url.href, cookie, maxAgeSeconds: PENDING_SECONDS };
  }

  /** Complete a sign-in: the callback URL as the browser called it and the cookie `start` set. */
  async callback(currentUrl: URL, cookie: string | undefined): Promise<OidcIdentity> {
    if (cookie === undefined) throw failed('the sign-in was not started in this browser (no state cookie)');
    let pending: Record<string, unknown>;
    try {
      ({ payload: pending } = await jwtDecrypt(cookie, this.pendingKey));
    } catch {
      throw failed('the sign-in state cookie is not valid or has expired');
    }
    const { state, nonce, verifier } = pending;
    if (typeof state !== 'string' || typeof nonce !== 'string' || typeof verifier !== 'string')
      throw failed('the sign-in state cookie is not valid');
    const provider = await this.provider();
    let claims: client.IDToken | undefined;
    try {
      const tokens = await client.authorizationCodeGrant(provider, currentUrl, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims();
    } catch (e) {
      // The library's text names what failed (state, nonce, signature); it holds no personal data.
      throw failed(`the provider's answer was refused: ${(e as Error).message}`);
    }
    if (!claims) throw failed('the provider sent no ID token');
    const value = this.config.roleClaim === undefined ? undefined : claims[this.config.roleClaim];
    const claimedRole =
      typeof value === 'string' && value !== 'admin' && (ROLES as readonly string[]).includes(value)
        ? (value as Role)
        : undefined;
    return { issuer: claims.iss, subject: claims.sub, claimedRole };
  }

  /** Discovery once per process; a failure is not cached, so a provider that was down is tried again. */
  private provider(): Promise<client.Configuration> {
    const issuer = new URL(this.config.issuer);
    this.discovered ??= client
      .discovery(
        issuer,
        this.config.clientId,
        undefined,
        client.ClientSecretPost(this.config.clientSecret),
        // A provider on plain http is accepted only on the loopback interface (tests, a provider beside the hub).
        isLoopback(issuer) ? { execute: [client.allowInsecureRequests] } : undefined,
      )
      .catch((e: unknown) => {
        this.discovered = undefined;
        throw new HealthmeshError(
          'AUTH_OIDC_FAILED',
          `the OpenID Provider could not be reached: ${(e as Error).message}`,
        );
      });
    return this.discovered;
  }
}

function isLoopback(url: URL): boolean {
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

function failed(message: string): HealthmeshError {
  return new HealthmeshError('AUTH_OIDC_FAILED', message);
}
