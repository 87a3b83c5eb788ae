export type { Clock } from './clock.js';
export { fixedClock, systemClock } from './clock.js';
export type {
  AuthConfig,
  ConsentConfig,
  DisclosurePolicy,
  EpidemicThreshold,
  FederationConfig,
  HubConfig,
  HubRole,
  OidcConfig,
  PurposeCoding,
  PurposePolicy,
  SurveillanceConfig,
} from './config.js';
export { defaultConfig, HUB_ROLES, PURPOSE_NAME, parseConfig, thresholdCount } from './config.js';
export { csvField } from './csv-field.js';
export type { ErrorCode, ErrorKind, FaultLocation } from './errors.js';
export {
  ERROR_CODES,
  ERROR_KINDS,
  exitCodeOf,
  HealthmeshError,
  httpStatusOf,
  isHealthmeshError,
  kindOf,
} from './errors.js';
export { faultPoint } from './fault-point.js';
export type { HubService } from './hub-role.js';
export { HUB_ROLE_PURPOSES, HUB_ROLE_SERVICES, hubOffers } from './hub-role.js';
export type { Logger } from './logger.js';
export { createLogger, silentLogger } from './logger.js';
export { fieldPath, firstSchemaError } from './schema-error.js';
export type { Random } from './seeded-random.js';
export { seededRandom, shuffledIndices, shuffleInPlace } from './seeded-random.js';
export { checkSourceName, isSourceName, SOURCE_NAME } from './source-name.js';
export { defaultWorkerCount, siblingModule, startReadyWorkers, startWorker } from './worker-threads.js';
