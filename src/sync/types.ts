/** The contract between the things that want a sync (webhook, admin API, cron) and the sync engine. */
import type { Priority } from './priority.js';

export type SyncMode = 'incremental' | 'full';

export interface SyncRequest {
  /** 'full' forces a windowed full sync; default lets the engine choose (incremental when a token exists). */
  mode?: SyncMode;
  /** Free text for logs: 'ping', 'admin', 'registered'. */
  reason?: string;
  /** The request's class (src/sync/priority.ts); by default ping for pings, recovery otherwise. */
  priority?: Priority;
}

/** 'requested': recorded in MongoDB. 'skipped': no such calendar, or it needs attention and no explicit mode was given. */
export type RequestOutcome = 'requested' | 'skipped';

export interface SyncRequester {
  /**
   * Records a request for a sync of one calendar in MongoDB and resolves once it is durable (never
   * calls Google in the caller's path). Coalesced across replicas: while a sync of that calendar is
   * queued or running, any number of requests lead to at most one more pass.
   */
  requestSync(calendarId: string, request?: SyncRequest): Promise<RequestOutcome>;
}
