import type { AdminHandler } from './admin-socket.js';
import { adminHandler } from './admin-socket.js';
import { accountCreate, accountList, accountUpdate } from './commands/account.js';
import { auditCheckpointOperation, auditVerifyOperation } from './commands/audit.js';
import { ingestOperation } from './commands/ingest.js';
import { statsOperation } from './commands/stats.js';
import { tokenCreate, tokenList, tokenRevoke } from './commands/token.js';

/** The commands a serving hub answers on its admin socket: those an operator needs without stopping it. */
export const ADMIN_OPERATIONS: ReadonlyMap<string, AdminHandler> = new Map([
  adminHandler(tokenCreate),
  adminHandler(tokenList),
  adminHandler(tokenRevoke),
  adminHandler(accountCreate),
  adminHandler(accountList),
  adminHandler(accountUpdate),
  adminHandler(statsOperation),
  adminHandler(auditVerifyOperation),
  adminHandler(auditCheckpointOperation),
  adminHandler(ingestOperation),
]);
