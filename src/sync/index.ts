// The sync engine's public surface, for the webhook, admin API, cron and server wiring.
export { SyncEngine, type CalendarRef, type SyncEngineOptions } from './engine.js';
export { SYNC_ERROR_CODES, type PassStatus, type SyncErrorCode, type SyncOutcome, type SyncRunResult } from './outcome.js';
export { PRIORITY, type Priority } from './priority.js';
export { clearSyncToken, hasValidSyncToken, readSyncToken, updateSyncToken, type StoredSyncToken } from './token-store.js';
export type { RequestOutcome, SyncMode, SyncRequest, SyncRequester } from './types.js';
