import type { SyncMode } from './types.js';

/**
 * Stable codes stored in `calendar.lastError.code`, logged, and exported as metric labels.
 * Changing one is a contract change for dashboards and alerts.
 */
export const SYNC_ERROR_CODES = [
  'rate_limited', // 429 / 403 rateLimitExceeded after the last retry: token kept
  'transient', // 5xx / network after the last retry: token kept
  'permission', // 401, 403 (not a rate limit), invalid_grant: needs attention
  'not_found', // calendar gone or unshared: needs attention
  'bad_request', // other 4xx: a bug on our side
  'credentials_unavailable', // no API client could be built for the account: needs attention
  'reauth_required', // the account needs reconnecting (Google refused its refresh token): parked until then
  'missing_sync_token', // Google ended the listing without nextSyncToken
  'lease_lost', // another process took over (this one stalled past its lease)
  'lease_expired', // found by the sweep: a holder died mid-sync
  'aborted', // shutdown interrupted the sync
  'internal', // anything else (database, bug)
] as const;
export type SyncErrorCode = (typeof SYNC_ERROR_CODES)[number];

export type PassStatus = 'ok' | 'failed' | 'needs_attention' | 'lease_lost' | 'aborted';

/** One pass of the engine over one calendar; handed to `onSyncFinished` for metrics. */
export interface SyncOutcome {
  calendarId: string;
  /** The mode that ran to the end (a fallback pass reports 'full'). */
  mode: SyncMode;
  reason: string;
  status: PassStatus;
  errorCode: SyncErrorCode | null;
  /** An incremental attempt hit a dead token (410 / 400) and fell back to a full sync. */
  fallback: boolean;
  /** The dead token was a 410 `fullSyncRequired` (token expiration metric). */
  tokenExpired: boolean;
  /** HTTP requests sent to Google, retries included. */
  apiCalls: number;
  retries: number;
  /** Events upserted or removed (including removals by absence after a full sync). */
  eventsChanged: number;
  durationMs: number;
  /** Mirrored events of the calendar after the pass (null when the pass lost its lease). */
  eventCount: number | null;
  /** The class of the most urgent request this pass covered (src/sync/priority.ts). */
  priority: number;
  /** When the earliest request it covered became due (request → mirror freshness). */
  dueAt: Date;
  finishedAt: Date;
}

/** What `syncCalendar` resolves to. */
export interface SyncRunResult {
  /** 'coalesced': another process holds the lease; it will run the pass this request asked for. */
  status: 'synced' | 'coalesced' | 'skipped';
  passes: SyncOutcome[];
}
