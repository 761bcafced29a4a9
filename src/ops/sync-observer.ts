import { Types } from 'mongoose';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/registry.js';
import type { SyncOutcome } from '../sync/outcome.js';
import { PRIORITY } from '../sync/priority.js';
import { countRunInBucket, syncBucketModel, type SyncBucketModel } from './sync-buckets.js';
import type { SyncRunModel } from './sync-run.js';

/** Page size a naive poller would use (Google's default maxResults): the baseline for API savings. */
const FULL_POLL_PAGE = 250;

export interface SyncObserverDeps {
  metrics: Metrics;
  SyncRun: SyncRunModel;
  log: Logger;
}

/**
 * Turns each finished sync pass into Prometheus series and a `sync_runs` row (the fleet-wide
 * alert source). Runs off the sync path: it must never throw into the engine.
 */
export function createSyncObserver(deps: SyncObserverDeps): (outcome: SyncOutcome) => void {
  const { metrics } = deps;
  // Built on the first run recorded: the run's own connection holds the chart buckets.
  let Bucket: SyncBucketModel | undefined;
  return (o) => {
    // A pass that lost its lease, or was cut short by a shutdown, is no verdict: whoever runs the
    // calendar next reports the real outcome.
    if (o.status === 'lease_lost' || o.status === 'aborted') return;
    const outcome = o.status;
    const fallbackReason = o.fallback ? (o.tokenExpired ? 'token_expired' : 'token_invalid') : null;
    metrics.syncs.inc({ mode: o.mode, outcome });
    metrics.syncDuration.observe({ mode: o.mode }, o.durationMs / 1000);
    metrics.apiCalls.inc({ method: 'events.list' }, o.apiCalls);
    const fullPollCalls = Math.max(1, Math.ceil((o.eventCount ?? 0) / FULL_POLL_PAGE));
    metrics.fullPollingEquivalentCalls.inc(fullPollCalls);
    metrics.eventsChanged.inc(o.eventsChanged);
    if (fallbackReason) metrics.fallbacks.inc({ reason: fallbackReason });
    if (o.tokenExpired) metrics.tokenExpirations.inc();
    if (o.errorCode) metrics.apiErrors.inc({ class: o.errorCode });
    // Freshness: a pass that covered a verified ping put its change in the mirror. `dueAt` is when
    // the earliest request it covered was recorded, which for a ping is when the webhook accepted it.
    if (outcome === 'ok' && o.priority === PRIORITY.ping) metrics.observeFreshness((o.finishedAt.getTime() - o.dueAt.getTime()) / 1000);

    if (!Types.ObjectId.isValid(o.calendarId)) return;
    const run = {
      calendarId: new Types.ObjectId(o.calendarId),
      mode: o.mode,
      outcome,
      fallbackReason,
      tokenExpired: o.tokenExpired,
      durationMs: o.durationMs,
      apiCalls: o.apiCalls,
      fullPollCalls,
      eventsChanged: o.eventsChanged,
      errorCode: o.errorCode,
      priority: o.priority,
      freshnessMs: Math.max(0, o.finishedAt.getTime() - o.dueAt.getTime()),
      finishedAt: new Date(),
      // Counted in its chart bucket below: the one-time backfill must not count it again.
      bucketed: true,
    };
    void deps.SyncRun.create(run).catch((err: unknown) => deps.log.warn({ err, calendarId: o.calendarId }, 'could not record sync run'));
    Bucket ??= syncBucketModel(deps.SyncRun.db);
    void countRunInBucket(Bucket, run).catch((err: unknown) => deps.log.warn({ err, calendarId: o.calendarId }, 'could not count sync run in its chart bucket'));
  };
}
