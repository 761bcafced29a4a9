import type { Logger } from 'pino';
import type { CalendarModel } from '../models/calendar.js';
import { IDLE_PRIORITY, PRIORITY } from '../sync/priority.js';
import type { SyncStateRepository } from '../sync/sync-state.js';

export interface SafetyNetDeps {
  Calendar: CalendarModel;
  state: Pick<SyncStateRepository, 'sweep' | 'requestMany'>;
  /** Re-sync calendars not synced for this long (pings may have been dropped). */
  staleMinutes: number;
  /** Calendars Google refused a watch for are polled this often. */
  pollMinutes: number;
  now?: () => Date;
  random?: () => number;
  /** Calendars marked per batch (each batch is one indexed read and a few writes). */
  batchSize?: number;
  /** Marks are spread over this long, so a large stale fleet does not all come due at once. */
  jitterMs?: number;
  log?: Logger;
}

export interface SafetyNetReport {
  /** Calendars shown as failed because their sync holder stopped renewing its lease. */
  stuckReleased: number;
  /** Sync requests recorded, by why. */
  marked: { stale: number; never_synced: number; polling: number };
}

/** A bound on one tick's work; what is left is marked on the next tick. */
const MAX_BATCHES = 200;

/**
 * The safety net behind pings. Google says push delivery is not 100% reliable, so calendars that
 * have not synced for a while (and polled calendars, and ones never synced) get a sync request.
 * It only marks work due, in bounded indexed batches with jitter, and never reads the fleet into
 * memory; a calendar that already has a request, or is being synced, is left alone, and a mark
 * applies only while the calendar is still stale, so every replica running this at once costs what
 * one does. Calendars that need attention are skipped: retrying them only burns quota until an
 * operator acts. Failed calendars retry by themselves (their requests stay, with a back-off).
 */
export async function runSafetyNet(deps: SafetyNetDeps): Promise<SafetyNetReport> {
  const now = deps.now?.() ?? new Date();
  const random = deps.random ?? Math.random;
  const batchSize = deps.batchSize ?? 500;
  const jitterMs = deps.jitterMs ?? Math.min(60_000, (deps.staleMinutes * 60_000) / 4);
  const staleBefore = new Date(now.getTime() - deps.staleMinutes * 60_000);
  const pollBefore = new Date(now.getTime() - deps.pollMinutes * 60_000);

  const stuck = await deps.state.sweep(now);
  const unrequested = { priority: IDLE_PRIORITY, syncHeldBy: null };
  const retryable = ['idle', 'failed'] as const;
  const kinds: Record<keyof SafetyNetReport['marked'], Record<string, unknown>> = {
    stale: { state: { $in: retryable }, lastSyncedAt: { $lt: staleBefore }, ...unrequested },
    never_synced: { state: { $in: retryable }, lastSyncedAt: null, ...unrequested },
    polling: { state: { $in: retryable }, lastSyncedAt: { $lt: pollBefore }, mode: 'polling', ...unrequested },
  };
  const report: SafetyNetReport = { stuckReleased: stuck.length, marked: { stale: 0, never_synced: 0, polling: 0 } };
  for (const kind of ['polling', 'never_synced', 'stale'] as const) {
    const filter = kinds[kind];
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const ids = (await deps.Calendar.find(filter, { _id: 1 }).limit(batchSize).lean()).map((c) => c._id);
      if (ids.length === 0) break;
      // A few due times per batch rather than one each: jitter without a write per calendar.
      const chunks = Math.min(10, ids.length);
      for (let i = 0; i < chunks; i++) {
        const part = ids.filter((_, j) => j % chunks === i);
        const at = new Date(now.getTime() + Math.floor(random() * jitterMs));
        report.marked[kind] += await deps.state.requestMany(part, { priority: PRIORITY.safetyNet, at, filter });
      }
      if (ids.length < batchSize) break;
    }
  }
  deps.log?.info({ ...report }, 'safety net marked calendars due');
  return report;
}
