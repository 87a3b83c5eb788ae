export type { AccountKeys } from './account-keys.js';
export type { Account, AccountChanges, AccountStatus } from './account-registry.js';
export { AccountRegistry, checkHandle, SIGN_UP_ROLES } from './account-registry.js';
export type { Actor } from './accounts.js';
export { Accounts, accountsModule } from './accounts.js';
export type { OidcIdentity } from './oidc-sign-in.js';
export { OIDC_COOKIE, OidcSignIn } from './oidc-sign-in.js';
export type { SessionTokens } from './session-tokens.js';
export { SessionTokensIssuer } from './session-tokens.js';
