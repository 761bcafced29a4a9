import type { Logger } from 'pino';
import { DELIVERY_MODES, type CalendarModel } from '../models/calendar.js';
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

/** Calendars the safety net may mark: failed ones are retried; those needing attention or retired never. */
const RETRYABLE = ['idle', 'failed'] as const;

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
  const report: SafetyNetReport = { stuckReleased: stuck.length, marked: { stale: 0, never_synced: 0, polling: 0 } };
  // Each read names exactly the fields of the {mode, priority, state, lastSyncedAt} index, equality on
  // the first three and a condition on the last: it reads only calendars without a request, in a
  // range that shrinks as they are marked, and no planner falls back to scanning the fleet (SecantusDB
  // scans the whole collection when a filter names any field outside its index, or uses $in). The
  // write re-checks everything, including that no pass holds the calendar.
  const reads: Array<[keyof SafetyNetReport['marked'], Record<string, unknown>]> = [];
  for (const state of RETRYABLE) reads.push(['polling', { mode: 'polling', priority: IDLE_PRIORITY, state, lastSyncedAt: { $lt: pollBefore } }]);
  for (const mode of DELIVERY_MODES) for (const state of RETRYABLE) reads.push(['never_synced', { mode, priority: IDLE_PRIORITY, state, lastSyncedAt: null }]);
  for (const mode of DELIVERY_MODES) for (const state of RETRYABLE) reads.push(['stale', { mode, priority: IDLE_PRIORITY, state, lastSyncedAt: { $lt: staleBefore } }]);
  for (const [kind, read] of reads) {
    const filter = { ...read, syncHeldBy: null };
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const ids = (await deps.Calendar.find(read, { _id: 1 }).limit(batchSize).lean()).map((c) => c._id);
      if (ids.length === 0) break;
      // A few due times per batch rather than one each: jitter without a write per calendar.
      const chunks = Math.min(10, ids.length);
      let marked = 0;
      for (let i = 0; i < chunks; i++) {
        const part = ids.filter((_, j) => j % chunks === i);
        const at = new Date(now.getTime() + Math.floor(random() * jitterMs));
        marked += await deps.state.requestMany(part, { priority: PRIORITY.safetyNet, at, filter });
      }
      report.marked[kind] += marked;
      // A full batch none of which could be marked (held by a pass right now) would be read again as is.
      if (ids.length < batchSize || marked === 0) break;
    }
  }
  deps.log?.info({ ...report }, 'safety net marked calendars due');
  return report;
}
