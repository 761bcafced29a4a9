/** The contract between the things that want a sync (webhook, admin API, cron) and the sync engine. */

export type SyncMode = 'incremental' | 'full';

export interface SyncRequest {
  /** 'full' forces a windowed full sync; default lets the engine choose (incremental when a token exists). */
  mode?: SyncMode;
  /** Free text for logs and metrics: 'ping', 'admin', 'cron', 'registered'. */
  reason?: string;
}

export interface SyncRequester {
  /**
   * Asks for a sync of one calendar and returns at once (never calls Google in the caller's path).
   * Coalesced across replicas: while a sync of that calendar runs, any number of requests lead to
   * at most one more pass.
   */
  requestSync(calendarId: string, request?: SyncRequest): void;
}
