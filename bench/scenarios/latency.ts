// Scenario 2: change → mirror latency through pings. The whole server listens on 127.0.0.1; the
// calendar is registered through the admin API (watch channel + full sync); then N spaced changes
// are written in the emulator (insert, patch, delete in turn). Each change's latency runs from just
// before the emulator write (which queues the ping) until a query of the mirror sees the new etag
// (or the deletion). The mirror is queried right after every page the engine stores (onPageStored
// seam, fire-and-forget) and every 100 ms as a fallback, so the query time is part of the figure.
import { startEmulator } from '../../src/emulator/index.js';
import type { CalendarModel } from '../../src/models/calendar.js';
import { eventBody, seedEvents, startServerStack, waitFor } from '../lib/setup.js';
import { summarize, type Summary } from '../lib/stats.js';

export interface LatencyOptions {
  changes: number;
  spacingMs: number;
  initialEvents: number;
}

type Op = 'insert' | 'patch' | 'delete';

export interface LatencyResult {
  options: LatencyOptions;
  all: Summary;
  byOp: Record<Op, Summary>;
  missed: number;
  eventsListCalls: number;
  syncPasses: number;
  pingsDelivered: number;
  /** What the cron safety net alone would give (derived from the configuration, not measured). */
  cronOnly: { resyncSchedule: string; resyncStaleMinutes: number; cycleMinutes: number | null };
  registerMs: number;
}

interface Pending {
  id: string;
  etag: string | null;
  op: Op;
  started: number;
  done?: number;
}

const GCAL = 'bench-latency@group.calendar.google.com';
const TIMEOUT_MS = 30_000;

export async function runLatency(dbBaseUri: string, opts: LatencyOptions, log: (m: string) => void): Promise<LatencyResult> {
  const emu = await startEmulator();
  const pending = new Set<Pending>();
  let requestCheck = () => {};
  const stack = await startServerStack({
    dbBaseUri,
    emu,
    name: 'latency',
    overrides: { engine: { onPageStored: () => requestCheck() } },
  });
  try {
    const { Event, Calendar } = stack.db.models;
    emu.createCalendar(GCAL);
    const live = seedEvents(emu, GCAL, opts.initialEvents).map((e) => e.id!);
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
    const pingsBefore = emu.pingStats().delivered;
    const passesBefore = await passCount(stack.db.models.Calendar, calendarId);
    const results: Pending[] = [];
    for (let k = 0; k < opts.changes; k++) {
      const op: Op = (['insert', 'patch', 'delete'] as const)[k % 3]!;
      const started = performance.now();
      let p: Pending;
      if (op === 'insert') {
        const ev = emu.insertEvent(GCAL, eventBody(100_000 + k));
        live.push(ev.id!);
        p = { id: ev.id!, etag: ev.etag!, op, started };
      } else if (op === 'patch') {
        const id = live[(k * 7) % live.length]!;
        p = { id, etag: emu.patchEvent(GCAL, id, { summary: `latency change ${k}` }).etag!, op, started };
      } else {
        const [id] = live.splice((k * 11) % live.length, 1);
        emu.deleteEvent(GCAL, id!);
        p = { id: id!, etag: null, op, started };
      }
      // A change to an event still awaiting an earlier change supersedes it (never happens with these picks).
      for (const q of pending) if (q.id === p.id) pending.delete(q);
      pending.add(p);
      results.push(p);
      await new Promise((r) => setTimeout(r, opts.spacingMs));
    }
    await waitFor(async () => pending.size === 0, TIMEOUT_MS);
    clearInterval(fallback);
    await emu.flushPings();
    await stack.app.services.engine.onIdle();

    const done = results.filter((p) => p.done !== undefined);
    const lat = (ps: Pending[]) => summarize(ps.map((p) => p.done! - p.started));
    const cfg = stack.app.services.config.cron;
    const every = /^\*\/(\d+) \* \* \* \*$/.exec(cfg.resyncSchedule);
    // A calendar synced just after a tick is not yet stale at the tick `stale` minutes later (by
    // seconds), so with a */N schedule it is picked up at the first tick strictly after that.
    const cycleMinutes = every ? (Math.floor(cfg.resyncStaleMinutes / Number(every[1])) + 1) * Number(every[1]) : null;
    log(`latency: ${done.length}/${results.length} changes mirrored`);
    return {
      options: opts,
      all: lat(done),
      byOp: { insert: lat(done.filter((p) => p.op === 'insert')), patch: lat(done.filter((p) => p.op === 'patch')), delete: lat(done.filter((p) => p.op === 'delete')) },
      missed: results.length - done.length,
      eventsListCalls: (emu.stats()['events.list'] ?? 0) - listBefore,
      syncPasses: (await passCount(stack.db.models.Calendar, calendarId)) - passesBefore,
      pingsDelivered: emu.pingStats().delivered - pingsBefore,
      cronOnly: { resyncSchedule: cfg.resyncSchedule, resyncStaleMinutes: cfg.resyncStaleMinutes, cycleMinutes },
      registerMs,
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
