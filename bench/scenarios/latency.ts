// Scenario 2: change → mirror latency through pings, with and without per-calendar pacing
// (SYNC_MIN_INTERVAL_MS). Each run gets the whole server on 127.0.0.1 (its own emulator and
// database), a calendar registered through the admin API (watch channel + full sync), a quiet
// pause longer than the pacing interval, then N spaced changes written in the emulator (insert,
// patch, delete in turn; the same positions in the same seeded calendar, so every run sees the
// same stream). Runs, one after the other in the same bench run:
//   - the stream with pacing off (SYNC_MIN_INTERVAL_MS=0);
//   - the same stream with the production default (SYNC_MIN_INTERVAL_MS=<default>, set explicitly);
//   - isolated changes (spaced wider than the interval) with the default pacing.
// Each change's latency runs from just before the emulator write (which queues the ping) until a
// query of the mirror sees the new etag (or the deletion). The mirror is queried right after every
// page the engine stores (onPageStored seam, fire-and-forget) and every 100 ms as a fallback, so
// the query time is part of the figure. The engine's sleeps are observed through its sleep seam
// (the real sleep, recorded): with no errors from the emulator, every sleep is a pacing wait.
import { startEmulator } from '../../src/emulator/index.js';
import type { CalendarModel } from '../../src/models/calendar.js';
import { defaultMinIntervalMs, eventBody, passRecords, recordingSleep, seedEvents, sleepMs, startServerStack, waitFor } from '../lib/setup.js';
import { summarize, type Summary } from '../lib/stats.js';

export interface LatencyOptions {
  /** The stream: `changes` writes `spacingMs` apart (run with pacing off and with the default). */
  changes: number;
  spacingMs: number;
  initialEvents: number;
  /** Isolated changes (default pacing): `isolatedChanges` writes `isolatedSpacingMs` apart. */
  isolatedChanges: number;
  isolatedSpacingMs: number;
}

type Op = 'insert' | 'patch' | 'delete';

export interface LatencyRunSpec {
  name: string;
  minIntervalMs: number;
  changes: number;
  spacingMs: number;
}

export interface LatencyRun {
  spec: LatencyRunSpec;
  all: Summary;
  byOp: Record<Op, Summary>;
  missed: number;
  /** Changes hidden by a later change to the same event before they reached the mirror (not in the latencies). */
  superseded: number;
  eventsListCalls: number;
  syncPasses: number;
  /** Passes recorded in sync_runs during the run, and those that found no change. */
  passRecords: { recorded: number; empty: number };
  pingsDelivered: number;
  pingsFailed: number;
  /** Engine sleeps during the stream (pacing waits; the emulator injects no errors here). */
  pacingWaits: { count: number; totalMs: number; meanMs: number; maxMs: number };
  /** From the first write until the engine is idle after the last change reached the mirror. */
  windowMs: number;
  callsPerMinute: number;
  registerMs: number;
}

export interface LatencyResult {
  options: LatencyOptions;
  defaultMinIntervalMs: number;
  runs: LatencyRun[];
  /** What the cron safety net alone would give (derived from the configuration, not measured). */
  cronOnly: { resyncSchedule: string; resyncStaleMinutes: number; cycleMinutes: number | null };
}

interface Pending {
  id: string;
  etag: string | null;
  op: Op;
  started: number;
  done?: number;
  superseded?: boolean;
}

const GCAL = 'bench-latency@group.calendar.google.com';
const TIMEOUT_MS = 30_000;
/** Changes after which an event may be changed again (40 × 150 ms = 6 s, far above any latency here). */
const RECENT = 40;

export async function runLatency(dbBaseUri: string, opts: LatencyOptions, log: (m: string) => void): Promise<LatencyResult> {
  const pace = defaultMinIntervalMs();
  const specs: LatencyRunSpec[] = [
    { name: 'stream, pacing off', minIntervalMs: 0, changes: opts.changes, spacingMs: opts.spacingMs },
    { name: 'stream, default pacing', minIntervalMs: pace, changes: opts.changes, spacingMs: opts.spacingMs },
    { name: 'isolated, default pacing', minIntervalMs: pace, changes: opts.isolatedChanges, spacingMs: opts.isolatedSpacingMs },
  ];
  const runs: LatencyRun[] = [];
  let cronOnly: LatencyResult['cronOnly'] | null = null;
  for (const spec of specs) {
    const { run, cron } = await runOne(dbBaseUri, opts.initialEvents, spec, pace);
    runs.push(run);
    cronOnly ??= cron;
    log(
      `latency (${spec.name}, SYNC_MIN_INTERVAL_MS=${spec.minIntervalMs}): ${run.all.n}/${spec.changes} mirrored, p50 ${Math.round(run.all.p50)} ms, ` +
        `p95 ${Math.round(run.all.p95)} ms, ${run.syncPasses} passes, ${run.eventsListCalls} calls, ${run.callsPerMinute.toFixed(0)} calls/min, ${run.pacingWaits.count} pacing waits`,
    );
  }
  return { options: opts, defaultMinIntervalMs: pace, runs, cronOnly: cronOnly! };
}

async function runOne(dbBaseUri: string, initialEvents: number, spec: LatencyRunSpec, pace: number): Promise<{ run: LatencyRun; cron: LatencyResult['cronOnly'] }> {
  const emu = await startEmulator();
  const pending = new Set<Pending>();
  let requestCheck = () => {};
  const sleeps = recordingSleep();
  const stack = await startServerStack({
    dbBaseUri,
    emu,
    name: 'latency',
    env: { SYNC_MIN_INTERVAL_MS: String(spec.minIntervalMs) },
    overrides: { engine: { onPageStored: () => requestCheck(), sleep: sleeps.sleep } },
  });
  try {
    const { Event, Calendar } = stack.db.models;
    emu.createCalendar(GCAL);
    const live = seedEvents(emu, GCAL, initialEvents).map((e) => e.id!);
    const registerStarted = performance.now();
    const calendarId = await stack.register(GCAL);
    const synced = await waitFor(async () => {
      const c = await Calendar.findById(calendarId, { lastSyncedAt: 1, state: 1 }).lean();
      return Boolean(c?.lastSyncedAt) && c?.state === 'idle';
    }, 120_000);
    if (!synced) throw new Error('the registered calendar did not finish its first sync within 120 s');
    await stack.app.services.engine.onIdle();
    const registerMs = performance.now() - registerStarted;
    await emu.flushPings();
    // A quiet calendar before the first change, in every run: longer than the default interval, so
    // the first change is not paced against the registration's full sync.
    await sleepMs(pace + 500);

    // One mirror query at a time; a request during a query runs another one right after.
    let checking: Promise<void> | null = null;
    let again = false;
    const check = async () => {
      const open = [...pending];
      if (open.length === 0) return;
      const docs = await Event.find({ googleEventId: { $in: open.map((p) => p.id) } }, { googleEventId: 1, etag: 1 }).lean();
      const now = performance.now();
      const etags = new Map(docs.map((d) => [d.googleEventId, d.etag]));
      for (const p of open) {
        if (p.etag === null ? !etags.has(p.id) : etags.get(p.id) === p.etag) {
          p.done = now;
          pending.delete(p);
        }
      }
    };
    requestCheck = () => {
      if (checking) {
        again = true;
        return;
      }
      checking = check()
        .catch(() => undefined)
        .finally(() => {
          checking = null;
          if (again) {
            again = false;
            requestCheck();
          }
        });
    };
    const fallback = setInterval(requestCheck, 100);

    const listBefore = emu.stats()['events.list'] ?? 0;
    const pingsBefore = emu.pingStats();
    const passesBefore = await passCount(Calendar, calendarId);
    const since = new Date();
    sleeps.reset();
    const windowStarted = performance.now();
    const results: Pending[] = [];
    // Patches and deletes skip events touched by the last RECENT changes (deterministic, so every
    // run gets the same stream): a second change to an event whose first change is still on its
    // way would hide the first one.
    const recent: string[] = [];
    const pick = (from: number): string => {
      for (let i = 0; i < live.length; i++) {
        const id = live[(from + i) % live.length]!;
        if (!recent.includes(id)) return id;
      }
      throw new Error('no event left to change');
    };
    for (let k = 0; k < spec.changes; k++) {
      const op: Op = (['insert', 'patch', 'delete'] as const)[k % 3]!;
      const started = performance.now();
      let p: Pending;
      if (op === 'insert') {
        const ev = emu.insertEvent(GCAL, eventBody(100_000 + k));
        live.push(ev.id!);
        p = { id: ev.id!, etag: ev.etag!, op, started };
      } else if (op === 'patch') {
        const id = pick(k * 7);
        p = { id, etag: emu.patchEvent(GCAL, id, { summary: `latency change ${k}` }).etag!, op, started };
      } else {
        const id = pick(k * 11);
        live.splice(live.indexOf(id), 1);
        emu.deleteEvent(GCAL, id);
        p = { id, etag: null, op, started };
      }
      recent.push(p.id);
      if (recent.length > RECENT) recent.shift();
      // A change to an event still awaiting an earlier change would hide the earlier one (the
      // mirror never shows its state): counted apart, left out of the latencies. The picks above
      // make it rare to impossible; the count says whether it happened.
      for (const q of pending) {
        if (q.id === p.id) {
          q.superseded = true;
          pending.delete(q);
        }
      }
      pending.add(p);
      results.push(p);
      await sleepMs(spec.spacingMs);
    }
    await waitFor(async () => pending.size === 0, TIMEOUT_MS);
    clearInterval(fallback);
    await emu.flushPings();
    await stack.app.services.engine.onIdle();
    const windowMs = performance.now() - windowStarted;
    const waits = [...sleeps.waits];

    const done = results.filter((p) => p.done !== undefined);
    const superseded = results.filter((p) => p.superseded && p.done === undefined).length;
    const lat = (ps: Pending[]) => summarize(ps.map((p) => p.done! - p.started));
    const cfg = stack.app.services.config.cron;
    const every = /^\*\/(\d+) \* \* \* \*$/.exec(cfg.resyncSchedule);
    // A calendar synced just after a tick is not yet stale at the tick `stale` minutes later (by
    // seconds), so with a */N schedule it is picked up at the first tick strictly after that.
    const cycleMinutes = every ? (Math.floor(cfg.resyncStaleMinutes / Number(every[1])) + 1) * Number(every[1]) : null;
    const syncPasses = (await passCount(Calendar, calendarId)) - passesBefore;
    const eventsListCalls = (emu.stats()['events.list'] ?? 0) - listBefore;
    const pingsAfter = emu.pingStats();
    const totalWait = waits.reduce((a, b) => a + b, 0);
    return {
      run: {
        spec,
        all: lat(done),
        byOp: { insert: lat(done.filter((p) => p.op === 'insert')), patch: lat(done.filter((p) => p.op === 'patch')), delete: lat(done.filter((p) => p.op === 'delete')) },
        missed: results.length - done.length - superseded,
        superseded,
        eventsListCalls,
        syncPasses,
        passRecords: await passRecords(stack, calendarId, since, syncPasses),
        pingsDelivered: pingsAfter.delivered - pingsBefore.delivered,
        pingsFailed: pingsAfter.failed - pingsBefore.failed,
        pacingWaits: { count: waits.length, totalMs: totalWait, meanMs: waits.length ? totalWait / waits.length : 0, maxMs: waits.length ? Math.max(...waits) : 0 },
        windowMs,
        callsPerMinute: eventsListCalls / (windowMs / 60_000),
        registerMs,
      },
      cron: { resyncSchedule: cfg.resyncSchedule, resyncStaleMinutes: cfg.resyncStaleMinutes, cycleMinutes },
    };
  } finally {
    requestCheck = () => {};
    await stack.close();
    await emu.close();
  }
}

/** Sync passes that finished for a calendar (incremental + full), from its counters. */
export async function passCount(Calendar: CalendarModel, calendarId: string): Promise<number> {
  const c = await Calendar.findById(calendarId, { counters: 1 }).lean();
  return (c?.counters?.incremental ?? 0) + (c?.counters?.full ?? 0);
}
