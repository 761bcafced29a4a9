import type { Logger } from 'pino';
import type { CalendarModel } from '../models/calendar.js';
import type { SyncRequester } from '../sync/types.js';

export interface ResyncPassDeps {
  Calendar: CalendarModel;
  sync: SyncRequester;
  /** Releases 'syncing' states whose holder died (lease expired); returns their ids. */
  sweepStuckSyncs: () => Promise<string[]>;
  staleMinutes: number;
  now?: () => Date;
  log?: Logger;
}

export interface ResyncReport {
  stuckReleased: number;
  requested: number;
  byReason: Record<'polling' | 'stale' | 'failed' | 'never_synced' | 'pending_full', number>;
}

/**
 * The safety net behind pings: Google says push delivery is not 100% reliable, so calendars that
 * have not synced for a while, poll-only calendars, failed ones and ones never synced get a sync
 * request. Requests coalesce in the engine, so a calendar already syncing costs nothing extra.
 * Calendars that need attention (revoked credentials, no access) are left alone: retrying them
 * only burns quota until an operator acts.
 */
export async function runResyncPass(deps: ResyncPassDeps): Promise<ResyncReport> {
  const now = deps.now?.() ?? new Date();
  const staleBefore = new Date(now.getTime() - deps.staleMinutes * 60_000);
  const stuck = await deps.sweepStuckSyncs();

  const rows = await deps.Calendar.find(
    {
      state: { $ne: 'needs_attention' },
      $or: [
        { mode: 'polling' },
        { state: 'failed' },
        { pendingFullSync: true },
        { lastSyncedAt: null },
        { lastSyncedAt: { $lt: staleBefore } },
      ],
    },
    { _id: 1, mode: 1, state: 1, pendingFullSync: 1, lastSyncedAt: 1 },
  ).lean();

  const report: ResyncReport = {
    stuckReleased: stuck.length,
    requested: 0,
    byReason: { polling: 0, stale: 0, failed: 0, never_synced: 0, pending_full: 0 },
  };
  for (const c of rows) {
    const reason: keyof ResyncReport['byReason'] =
      c.pendingFullSync ? 'pending_full'
      : c.state === 'failed' ? 'failed'
      : c.mode === 'polling' ? 'polling'
      : c.lastSyncedAt == null ? 'never_synced'
      : 'stale';
    report.byReason[reason]++;
    report.requested++;
    deps.sync.requestSync(String(c._id), { reason: `cron:${reason}`, ...(c.pendingFullSync ? { mode: 'full' as const } : {}) });
  }
  deps.log?.info({ ...report }, 'resync pass requested syncs');
  return report;
}
