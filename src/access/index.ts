export type { AuditCheckpoint, CheckpointSigner } from './audit-checkpoints.js';
export type { AuditKey } from './audit-key.js';
export { openAuditKey, readAuditKey, writeAuditKey } from './audit-key.js';
export type { AuditEntry, AuditLogOptions, AuditRecord, AuditVerification, CheckpointResult } from './audit-log.js';
export { AuditLog, auditMigrations, CHECKPOINT_ACTION } from './audit-log.js';
export { INGEST_ROLES, mayIngest, mayReadRowLevel, mayWriteSource, ROW_LEVEL_ROLES } from './row-level-access.js';
export type { Principal, Role } from './token-registry.js';
export { ROLES, TokenRegistry, tokenMigrations } from './token-registry.js';
