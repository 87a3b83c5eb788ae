export type { AuditEntry, AuditRecord, AuditVerification } from './audit-log.js';
export { AuditLog, auditMigrations } from './audit-log.js';
export { INGEST_ROLES, mayIngest, mayReadRowLevel, mayWriteSource, ROW_LEVEL_ROLES } from './row-level-access.js';
export type { Principal, Role } from './token-registry.js';
export { ROLES, TokenRegistry, tokenMigrations } from './token-registry.js';
