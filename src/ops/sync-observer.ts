import { Types } from 'mongoose';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/registry.js';
import type { CalendarModel } from '../models/calendar.js';
import type { SyncOutcome } from '../sync/outcome.js';
import type { SyncRunModel } from './sync-run.js';

/** Page size a naive poller would use (Google's default maxResults): the baseline for API savings. */
const FULL_POLL_PAGE = 250;

export interface SyncObserverDeps {
  metrics: Metrics;
  SyncRun: SyncRunModel;
  Calendar: CalendarModel;
  log: Logger;
}

/**
 * Turns each finished sync pass into Prometheus series and a `sync_runs` row (the fleet-wide
 * alert source). Runs off the sync path: it must never throw into the engine.
 */
export function createSyncObserver(deps: SyncObserverDeps): (outcome: SyncOutcome) => void {
  const { metrics } = deps;
  return (o) => {
    // A pass that lost its lease did no durable work; the new holder reports the real outcome.
    if (o.status === 'lease_lost') return;
    const outcome = o.status;
    metrics.syncs.inc({ mode: o.mode, outcome });
    metrics.syncDuration.observe({ mode: o.mode }, o.durationMs / 1000);
    metrics.apiCalls.inc({ method: 'events.list' }, o.apiCalls);
    metrics.eventsChanged.inc(o.eventsChanged);
    if (o.fallback) metrics.fallbacks.inc({ reason: o.tokenExpired ? 'token_expired' : 'token_invalid' });
    if (o.tokenExpired) metrics.tokenExpirations.inc();
    if (o.errorCode) metrics.apiErrors.inc({ class: o.errorCode });

    void (async () => {
      if (!Types.ObjectId.isValid(o.calendarId)) return;
      const calendarId = new Types.ObjectId(o.calendarId);
      const cal = await deps.Calendar.findById(calendarId, { eventCount: 1 }).lean();
      metrics.fullPollingEquivalentCalls.inc(Math.max(1, Math.ceil((cal?.eventCount ?? 0) / FULL_POLL_PAGE)));
      await deps.SyncRun.create({
        calendarId,
        mode: o.mode,
        outcome,
        fallbackReason: o.fallback ? (o.tokenExpired ? 'token_expired' : 'token_invalid') : null,
        tokenExpired: o.tokenExpired,
        durationMs: o.durationMs,
        apiCalls: o.apiCalls,
        eventsChanged: o.eventsChanged,
        errorCode: o.errorCode,
        finishedAt: new Date(),
      });
    })().catch((err: unknown) => deps.log.warn({ err, calendarId: o.calendarId }, 'could not record sync run'));
  };
}
