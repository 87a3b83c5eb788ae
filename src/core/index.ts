export type { Clock } from './clock.js';
export { fixedClock, systemClock } from './clock.js';
export type { HubConfig, HubRole } from './config.js';
export { defaultConfig, parseConfig } from './config.js';
export type { ErrorCode, FaultLocation } from './errors.js';
export { ERROR_CODES, HealthmeshError, isHealthmeshError } from './errors.js';
export type { Logger } from './logger.js';
export { createLogger, silentLogger } from './logger.js';
export { defaultWorkerCount, siblingModule, startReadyWorkers, startWorker } from './worker-threads.js';
