import { HealthmeshError } from './errors.js';
import { isSourceName } from './source-name.js';

export type HubRole = 'data' | 'research' | 'demonstration';

/** The roles a hub may take (`role` in `hub.json`, `init --role`). */
export const HUB_ROLES: readonly HubRole[] = ['data', 'research', 'demonstration'];

/** A hub's configuration (`hub.json` in its data directory). Secrets live apart, in `secrets/`. */
export interface HubConfig {
  name: string;
  role: HubRole;
  /** Source name used when an ingest names none. */
  defaultSource: string;
  privacy: {
    birthDatePrecision: 'year' | 'month' | 'day';
    disclosure: DisclosurePolicy;
    /** Consent policy per purpose (docs/consent.md); absent = the built-in purposes as they are. */
    consent?: ConsentConfig;
  };
  federation: FederationConfig;
  /**
   * `maxBodyBytes`: the largest request body the API reads (federation routes have their own, smaller limit).
   * `exportLifetimeSeconds`: how long a finished Bulk Data export's files stay for its owner before they are removed.
   * `rateLimitPerMinute`: the most requests one token may make in a minute (peers' signed requests excepted).
   */
  server: {
    host: string;
    port: number;
    maxBodyBytes: number;
    exportLifetimeSeconds: number;
    rateLimitPerMinute: number;
  };
  /** `maxBundleEntries`: the most entries a Bundle posted to `POST /fhir` may have (files ingest without it). */
  ingest: { batchSize: number; maxRecordBytes: number; maxBundleEntries: number };
  /** DuckDB buffer pool cap, e.g. "2GB". */
  /**
   * Where the hub's data lives: `duckdb` (the default) is a file in the hub's directory, `memoryLimit` capping its
   * buffer pool; `postgres` is a PostgreSQL database at `url` (postgres://user@host:port/db, or a unix socket as
   * `postgres:///db?host=/run/postgresql`), for hubs served by several processes.
   */
  store: { engine: 'duckdb' | 'postgres'; memoryLimit: string; url?: string };
  /** Forecast alerts (docs/surveillance.md): epidemic thresholds per location and the quantile compared. */
  surveillance: SurveillanceConfig;
  /**
   * Drift of served third-party models (docs/validation.md): the population stability index above `driftPsiLimit`
   * raises an alert, once `driftMinPredictions` were served in the last `driftWindowDays` days.
   */
  validation: { driftPsiLimit: number; driftMinPredictions: number; driftWindowDays: number };
  /** People's sign-in (docs/accounts.md): session lifetimes, lockout, and the hospital's OpenID Provider if any. */
  auth: AuthConfig;
  /** `checkpointEvery`: a signed audit checkpoint after this many entries (and at shutdown, and on demand). */
  audit: { checkpointEvery: number };
}

/**
 * Sign-in of accounts. `sessionMinutes`: the life of an access token; `refreshHours`: of a session's refresh token
 * (each use rotates it); `maxFailedSignIns` failures in a row lock a sign-in name for `lockoutMinutes`;
 * `minPasswordLength`: the shortest password accepted; `signInPerMinute`: the most sign-in and sign-up attempts one
 * client address may make in a minute.
 */
export interface AuthConfig {
  sessionMinutes: number;
  signInPerMinute: number;
  refreshHours: number;
  maxFailedSignIns: number;
  lockoutMinutes: number;
  minPasswordLength: number;
  oidc?: OidcConfig;
}

/**
 * The hospital's OpenID Provider: `issuer` (discovered at `<issuer>/.well-known/openid-configuration`), this hub as
 * its client, the `redirectUri` registered there (this hub's `/auth/oidc/callback`). `roleClaim` names a claim whose
 * value, when it is one of the hub's roles other than admin, is the role of an account made at first sign-in;
 * `defaultRole` otherwise (never admin).
 */
export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  roleClaim?: string;
  defaultRole: string;
}

/**
 * A weekly epidemic threshold for one location: a count of cases a week, or a rate per 1,000 of a stated
 * population (Korea's ILI threshold is a rate; ours is per 1,000 population, since a hub knows its residents and
 * not every outpatient visit of its region). Exactly one of `weeklyCount` and `ratePer1000`.
 */
export interface EpidemicThreshold {
  weeklyCount?: number;
  ratePer1000?: number;
  /** The population the rate is per; required with `ratePer1000`. */
  population?: number;
}

export interface SurveillanceConfig {
  /** Thresholds by location code (the hub's own series uses the hub's name). */
  epidemicThresholds: Record<string, EpidemicThreshold>;
  /** The forecast quantile level compared with the threshold: 0.5 (the median) unless configured. */
  alertQuantile: number;
}

/** The weekly count a threshold stands for. */
export function thresholdCount(t: EpidemicThreshold): number {
  return t.weeklyCount ?? ((t.ratePer1000 ?? 0) * (t.population ?? 0)) / 1000;
}

/**
 * Statistical disclosure control of everything that leaves the hub (docs/disclosure-control.md): counts under
 * `threshold` are suppressed, others rounded to a multiple of `rounding`, and a mean, SD or quantile needs at
 * least `minCellSize` people behind it.
 */
export interface DisclosurePolicy {
  threshold: number;
  rounding: number;
  minCellSize: number;
  /** Significant digits of a released statistic (mean, SD, metric, ratio); default 3. */
  precision?: number;
  /** The largest share of a total the two largest contributors may hold, else it is withheld; default 0.85. */
  dominance?: number;
}

/** A coding (FHIR Coding's system and code) that names a purpose of use. */
export interface PurposeCoding {
  system: string;
  code: string;
}

/**
 * A hub's policy for one purpose of use (docs/consent.md). `default` is what holds for a person with no consent
 * that speaks to the purpose: `opt-out` permits, `opt-in` leaves the person out. `withoutConsent` marks a purpose
 * the law lets the hub use pseudonymised data for without consent: consents are then not applied to it.
 * `codings` are FHIR codings (in `Consent.provision.purpose` or `Consent.scope`) that name the purpose, added to
 * the built-in ones.
 */
export interface PurposePolicy {
  default?: 'opt-in' | 'opt-out';
  withoutConsent?: boolean;
  codings?: PurposeCoding[];
}

/** `privacy.consent` of `hub.json`: per purpose (built-in or the hub's own), what to change of the defaults. */
export interface ConsentConfig {
  purposes: Record<string, PurposePolicy>;
}

/** Hub-to-hub requests (docs/federation.md). */
export interface FederationConfig {
  /** How far a signed request's timestamp may be from this hub's clock, in seconds. */
  clockSkewSeconds: number;
  /** How long a coordinator waits for each peer, in milliseconds. */
  timeoutMs: number;
  /**
   * The largest request body `/federation/*` reads, once the signature header has passed. The largest message
   * peers send is a linkage ring step: ~46 bytes per blinded point, so 16 MiB carries ~360,000 points (one hub's
   * cohort members plus dummies); cohort definitions, GLM terms and series requests are a few KB.
   */
  maxBodyBytes: number;
}

export function defaultConfig(name: string): HubConfig {
  return {
    name,
    role: 'data',
    defaultSource: 'default',
    privacy: {
      birthDatePrecision: 'month',
      disclosure: { threshold: 10, rounding: 5, minCellSize: 10 },
      consent: { purposes: {} },
    },
    federation: { clockSkewSeconds: 60, timeoutMs: 10_000, maxBodyBytes: 16 * 1024 * 1024 },
    // 3,000 a minute per token: far above a person at the console or a script polling, a cap on a runaway client.
    server: {
      host: '127.0.0.1',
      port: 8080,
      maxBodyBytes: 256 * 1024 * 1024,
      exportLifetimeSeconds: 24 * 3600,
      rateLimitPerMinute: 3000,
    },
    // 10,000 entries: ~5 s and ~260 MB to ingest through the API here; 100,000 took 49 s and 1.4 GB.
    ingest: { batchSize: 20_000, maxRecordBytes: 64 * 1024 * 1024, maxBundleEntries: 10_000 },
    store: { engine: 'duckdb', memoryLimit: '1GB' },
    surveillance: { epidemicThresholds: {}, alertQuantile: 0.5 },
    // PSI 0.2: the usual line for a significant shift (Yurdakul 2018); under ~100 predictions a PSI over ten bins
    // is mostly noise (its expectation without drift is about (bins − 1)/n).
    validation: { driftPsiLimit: 0.2, driftMinPredictions: 100, driftWindowDays: 30 },
    // 15-minute access tokens (a stolen one is short-lived; the console refreshes before expiry), 12-hour sessions.
    // 30 sign-ins a minute per client: a person retyping a password never reaches it, a script spraying one password
    // over many names (which the per-name lockout never sees) is slowed to 30 names a minute.
    auth: {
      sessionMinutes: 15,
      refreshHours: 12,
      maxFailedSignIns: 5,
      lockoutMinutes: 15,
      minPasswordLength: 12,
      signInPerMinute: 30,
    },
    // Entries after the newest checkpoint are guarded by `audit.head` alone: 1,000 bounds that gap at about one
    // signature per 1,000 entries.
    audit: { checkpointEvery: 1000 },
  };
}

const PRECISIONS = ['year', 'month', 'day'];

/** Check a parsed `hub.json`, naming the first field that is wrong. Missing optional sections take defaults. */
export function parseConfig(value: unknown, file: string): HubConfig {
  const fail = (path: string, expected: string): never => {
    throw new HealthmeshError('CONFIG_INVALID', `${file}: ${path} must be ${expected}`, { file, path });
  };
  if (value === null || typeof value !== 'object') return fail('(root)', 'an object');
  const v = value as Record<string, Record<string, unknown> | unknown>;
  if (typeof v.name !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(v.name)) {
    return fail('name', 'a lower-case name of letters, digits and hyphens');
  }
  const base = defaultConfig(v.name);
  const section = (key: string): Record<string, unknown> => {
    const s = v[key];
    if (s === undefined) return {};
    if (s === null || typeof s !== 'object') return fail(key, 'an object');
    return s as Record<string, unknown>;
  };
  const role = v.role ?? base.role;
  if (typeof role !== 'string' || !(HUB_ROLES as readonly string[]).includes(role))
    fail('role', `one of ${HUB_ROLES.join(', ')}`);
  const defaultSource = v.defaultSource ?? base.defaultSource;
  if (!isSourceName(defaultSource)) fail('defaultSource', "a source name (lower-case letters, digits, '.', '_', '-')");
  const privacySection = section('privacy');
  const disclosureSection = privacySection.disclosure ?? {};
  if (disclosureSection === null || typeof disclosureSection !== 'object') fail('privacy.disclosure', 'an object');
  const disclosure = { ...base.privacy.disclosure, ...(disclosureSection as Record<string, unknown>) };
  const consent = parseConsent(privacySection.consent, fail);
  const privacy = { ...base.privacy, ...privacySection, disclosure, consent };
  if (!PRECISIONS.includes(String(privacy.birthDatePrecision)))
    fail('privacy.birthDatePrecision', `one of ${PRECISIONS.join(', ')}`);
  for (const key of ['threshold', 'rounding', 'minCellSize'] as const) {
    if (!Number.isInteger(disclosure[key]) || (disclosure[key] as number) < 1)
      fail(`privacy.disclosure.${key}`, 'a positive integer');
  }
  if (
    disclosure.precision !== undefined &&
    (!Number.isInteger(disclosure.precision) ||
      (disclosure.precision as number) < 1 ||
      (disclosure.precision as number) > 15)
  )
    fail('privacy.disclosure.precision', 'an integer number of significant digits, 1-15');
  if (
    disclosure.dominance !== undefined &&
    !(typeof disclosure.dominance === 'number' && disclosure.dominance > 0 && disclosure.dominance < 1)
  )
    fail('privacy.disclosure.dominance', 'a share between 0 and 1');
  const federation = { ...base.federation, ...section('federation') };
  if (typeof federation.clockSkewSeconds !== 'number' || !(federation.clockSkewSeconds > 0))
    fail('federation.clockSkewSeconds', 'a positive number of seconds');
  if (!Number.isInteger(federation.timeoutMs) || federation.timeoutMs < 1)
    fail('federation.timeoutMs', 'a positive integer of milliseconds');
  if (!Number.isInteger(federation.maxBodyBytes) || federation.maxBodyBytes < 1024)
    fail('federation.maxBodyBytes', 'an integer number of bytes ≥ 1024');
  const server = { ...base.server, ...section('server') };
  if (typeof server.host !== 'string') fail('server.host', 'a string');
  if (!Number.isInteger(server.port) || server.port < 0 || server.port > 65535)
    fail('server.port', 'a port number 0-65535');
  if (!Number.isInteger(server.maxBodyBytes) || server.maxBodyBytes < 1024)
    fail('server.maxBodyBytes', 'an integer number of bytes ≥ 1024');
  if (!Number.isInteger(server.exportLifetimeSeconds) || server.exportLifetimeSeconds < 1)
    fail('server.exportLifetimeSeconds', 'a positive integer of seconds');
  if (!Number.isInteger(server.rateLimitPerMinute) || server.rateLimitPerMinute < 1)
    fail('server.rateLimitPerMinute', 'a positive integer of requests');
  const ingest = { ...base.ingest, ...section('ingest') };
  if (!Number.isInteger(ingest.batchSize) || ingest.batchSize < 1) fail('ingest.batchSize', 'a positive integer');
  if (!Number.isInteger(ingest.maxRecordBytes) || ingest.maxRecordBytes < 1024)
    fail('ingest.maxRecordBytes', 'an integer ≥ 1024');
  if (!Number.isInteger(ingest.maxBundleEntries) || ingest.maxBundleEntries < 1)
    fail('ingest.maxBundleEntries', 'a positive integer');
  const store = { ...base.store, ...section('store') };
  if (typeof store.memoryLimit !== 'string' || !/^\d+(\.\d+)?\s*(KB|MB|GB|TB)$/i.test(store.memoryLimit)) {
    fail('store.memoryLimit', 'a size such as "2GB" or "512MB"');
  }
  if (store.engine !== 'duckdb' && store.engine !== 'postgres') fail('store.engine', '"duckdb" or "postgres"');
  if (store.engine === 'postgres' && (typeof store.url !== 'string' || !/^postgres(ql)?:\/\//.test(store.url))) {
    fail('store.url', 'a PostgreSQL connection URL (postgres://…) when store.engine is "postgres"');
  }
  if (store.engine === 'duckdb' && store.url !== undefined) fail('store.url', 'absent when store.engine is "duckdb"');
  const surveillance = parseSurveillance(section('surveillance'), fail);
  const auth = parseAuth(section('auth'), base.auth, fail);
  const validation = { ...base.validation, ...section('validation') };
  if (typeof validation.driftPsiLimit !== 'number' || !(validation.driftPsiLimit > 0))
    fail('validation.driftPsiLimit', 'a positive number');
  for (const key of ['driftMinPredictions', 'driftWindowDays'] as const) {
    if (!Number.isInteger(validation[key]) || validation[key] < 1) fail(`validation.${key}`, 'a positive integer');
  }
  const audit = { ...base.audit, ...section('audit') };
  if (!Number.isInteger(audit.checkpointEvery) || audit.checkpointEvery < 1)
    fail('audit.checkpointEvery', 'a positive integer of entries');
  return {
    name: v.name,
    role: role as HubRole,
    defaultSource: defaultSource as string,
    privacy: privacy as HubConfig['privacy'],
    federation: federation as HubConfig['federation'],
    server: server as HubConfig['server'],
    ingest: ingest as HubConfig['ingest'],
    store: store as HubConfig['store'],
    surveillance,
    validation,
    auth,
    audit,
  };
}

/** Roles an account made at its first OpenID sign-in may get (the access module's roles but admin). */
const OIDC_ROLES = ['steward', 'researcher', 'developer', 'validator', 'citizen', 'service'];

function parseAuth(s: Record<string, unknown>, base: AuthConfig, fail: (path: string, expected: string) => never) {
  const { oidc, ...numbers } = s;
  const auth = { ...base, ...numbers } as Record<string, unknown>;
  for (const key of [
    'sessionMinutes',
    'refreshHours',
    'maxFailedSignIns',
    'lockoutMinutes',
    'minPasswordLength',
    'signInPerMinute',
  ]) {
    if (!Number.isInteger(auth[key]) || (auth[key] as number) < 1) fail(`auth.${key}`, 'a positive integer');
  }
  const unknownKey = Object.keys(auth).find((k) => !(k in base) && k !== 'oidc');
  if (unknownKey !== undefined) fail(`auth.${unknownKey}`, 'absent (not an auth setting)');
  if (oidc === undefined) return auth as unknown as AuthConfig;
  if (oidc === null || typeof oidc !== 'object' || Array.isArray(oidc)) return fail('auth.oidc', 'an object');
  const o = oidc as Record<string, unknown>;
  for (const key of ['issuer', 'redirectUri']) {
    if (typeof o[key] !== 'string' || !/^https?:\/\/\S+$/.test(o[key] as string))
      fail(`auth.oidc.${key}`, 'an http(s) URL');
  }
  for (const key of ['clientId', 'clientSecret']) {
    if (typeof o[key] !== 'string' || o[key] === '') fail(`auth.oidc.${key}`, 'a non-empty string');
  }
  if (o.roleClaim !== undefined && (typeof o.roleClaim !== 'string' || o.roleClaim === ''))
    fail('auth.oidc.roleClaim', 'a claim name');
  const defaultRole = o.defaultRole ?? 'researcher';
  if (typeof defaultRole !== 'string' || !OIDC_ROLES.includes(defaultRole))
    fail('auth.oidc.defaultRole', `one of ${OIDC_ROLES.join(', ')} (never admin)`);
  const out: OidcConfig = {
    issuer: o.issuer as string,
    clientId: o.clientId as string,
    clientSecret: o.clientSecret as string,
    redirectUri: o.redirectUri as string,
    defaultRole: defaultRole as string,
    ...(o.roleClaim !== undefined && { roleClaim: o.roleClaim as string }),
  };
  return { ...(auth as unknown as AuthConfig), oidc: out };
}

const positive = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0;

function parseSurveillance(
  s: Record<string, unknown>,
  fail: (path: string, expected: string) => never,
): SurveillanceConfig {
  const level = s.alertQuantile ?? 0.5;
  if (typeof level !== 'number' || !(level > 0 && level < 1)) fail('surveillance.alertQuantile', 'a number in (0, 1)');
  const raw = s.epidemicThresholds ?? {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    fail('surveillance.epidemicThresholds', 'an object');
  const thresholds: Record<string, EpidemicThreshold> = {};
  for (const [location, t] of Object.entries(raw as Record<string, unknown>)) {
    const path = `surveillance.epidemicThresholds.${location}`;
    if (t === null || typeof t !== 'object') return fail(path, 'an object');
    const { weeklyCount, ratePer1000, population } = t as Record<string, unknown>;
    if ((weeklyCount === undefined) === (ratePer1000 === undefined)) fail(path, 'one of weeklyCount or ratePer1000');
    if (weeklyCount !== undefined) {
      if (!positive(weeklyCount)) fail(`${path}.weeklyCount`, 'a positive number');
      thresholds[location] = { weeklyCount: weeklyCount as number };
    } else {
      if (!positive(ratePer1000)) fail(`${path}.ratePer1000`, 'a positive number');
      if (!positive(population)) fail(`${path}.population`, 'a positive number (required with ratePer1000)');
      thresholds[location] = { ratePer1000: ratePer1000 as number, population: population as number };
    }
  }
  return { epidemicThresholds: thresholds, alertQuantile: level as number };
}

/** A purpose's name: lower-case letters, digits and hyphens (it is written into SQL as a literal). */
export const PURPOSE_NAME = /^[a-z][a-z0-9-]{0,39}$/;

function parseConsent(raw: unknown, fail: (path: string, expected: string) => never): ConsentConfig {
  if (raw === undefined) return { purposes: {} };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return fail('privacy.consent', 'an object');
  const { purposes = {}, ...rest } = raw as Record<string, unknown>;
  const unknownKey = Object.keys(rest)[0];
  if (unknownKey !== undefined) fail(`privacy.consent.${unknownKey}`, 'absent (only purposes is read)');
  if (purposes === null || typeof purposes !== 'object' || Array.isArray(purposes))
    fail('privacy.consent.purposes', 'an object of purposes');
  const out: Record<string, PurposePolicy> = {};
  for (const [name, p] of Object.entries(purposes as Record<string, unknown>)) {
    const path = `privacy.consent.purposes.${name}`;
    if (!PURPOSE_NAME.test(name)) fail(path, 'named by lower-case letters, digits and hyphens (at most 40)');
    if (p === null || typeof p !== 'object' || Array.isArray(p)) return fail(path, 'an object');
    const { default: dflt, withoutConsent, codings, ...other } = p as Record<string, unknown>;
    const extra = Object.keys(other)[0];
    if (extra !== undefined) fail(`${path}.${extra}`, 'absent (default, withoutConsent and codings are read)');
    const policy: PurposePolicy = {};
    if (dflt !== undefined) {
      if (dflt !== 'opt-in' && dflt !== 'opt-out') fail(`${path}.default`, 'opt-in or opt-out');
      policy.default = dflt as 'opt-in' | 'opt-out';
    }
    if (withoutConsent !== undefined) {
      if (typeof withoutConsent !== 'boolean') fail(`${path}.withoutConsent`, 'true or false');
      policy.withoutConsent = withoutConsent as boolean;
    }
    if (codings !== undefined) {
      if (!Array.isArray(codings)) return fail(`${path}.codings`, 'an array of { system, code }');
      policy.codings = codings.map((c, i) => {
        const { system, code } = (c ?? {}) as Record<string, unknown>;
        if (typeof system !== 'string' || system === '' || typeof code !== 'string' || code === '')
          fail(`${path}.codings[${i}]`, 'an object with a non-empty system and code');
        return { system: system as string, code: code as string };
      });
    }
    out[name] = policy;
  }
  return { purposes: out };
}
