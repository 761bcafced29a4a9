// Scenario "fleet": the safety net over a large fleet, one replica vs three, each a child process
// running the real cron. Calendars are inserted directly (registered long ago, with channels and
// tokens implied); only the stale subset exists in the emulator, since only it is synced.
import { Types } from 'mongoose';
import { startEmulator } from '../../src/emulator/index.js';
import { IDLE_PRIORITY, NEVER } from '../../src/sync/priority.js';
import { startReplicaFleet, type ChildReplica, type LogLine } from '../lib/replicas.js';
import { PRIORITY } from '../../src/sync/priority.js';
import { PRIORITY_SHARE, QUOTA_SLICES, QUOTA_WINDOW_MS, sliceBudget } from '../../src/quota/quota-governor.js';
import { defaultConfig, openBenchDb, sleepMs, waitFor } from '../lib/setup.js';
import { round } from '../lib/stats.js';

export interface FleetOptions {
  /** Fleet sizes (calendars in the database). */
  sizes: number[];
  /** Stale calendars in each fleet (the ones the safety net must sync). */
  stale: number;
  replicas: number[];
  /** Seconds between cron ticks (a seconds-resolution node-cron expression). */
  tickEverySec: number;
}

export interface FleetRun {
  calendars: number;
  stale: number;
  replicas: number;
  /** Calendars the measured tick marked, summed over replicas, and per replica. */
  marked: number;
  markedPerReplica: number[];
  /** runSafetyNet wall time per replica (the cron's own "cron job finished" ms): the slowest tick during the cycle. */
  tickMs: number[];
  /** Per replica: the median tick during the cycle (ticks compete with the cycle's syncs for the database). */
  tickMedianMs: number[];
  /** Per replica: its slowest tick that marked calendars (null: it marked none). */
  markingTickMs: Array<number | null>;
  /** Per replica: the first tick that starts once the cycle is over and the fleet is quiet (nothing to mark). */
  idleTickMs: number[];
  eventsListCalls: number;
  callsPerStaleCalendar: number;
  /** From the tick until no calendar has a request left and every stale one has synced. */
  allSyncedMs: number;
  allSynced: boolean;
  /** Calendars synced more than once by this cycle (should be 0). */
  syncedTwice: number;
  /** Per replica, MiB: VmRSS once idle before the tick, VmRSS after the cycle, VmHWM (peak) after. */
  rssBeforeMiB: number[];
  rssAfterMiB: number[];
  rssPeakMiB: number[];
  insertMs: number;
}

export interface FleetResult {
  options: FleetOptions;
  env: Record<string, string>;
  runs: FleetRun[];
  /** Runs that did not complete, with why. */
  failures?: string[];
  /** Each run had a database server of its own. */
  serverPerRun?: boolean;
  /**
   * The per-account quota's floor under "all synced" (every stale calendar belongs to one account):
   * safety-net calls per quota slice by default, the slice length, and the least time `stale` calls take.
   */
  quotaFloor?: { callsPerSlice: number; sliceMs: number; ms: number };
}

// The measured tick is the one after the stale subset is backdated; the renewal job is pushed out of
// the run (its own schedule every 10 minutes would otherwise try to renew every implied channel).
const FLEET_ENV = (tickEverySec: number) => ({
  CRON_ENABLED: 'true',
  CRON_RESYNC_SCHEDULE: `*/${tickEverySec} * * * * *`,
  // Replicas spread their ticks over the first 40 % of each period, as the default spreads them over
  // 10 s of a 15-minute period (a run still going at the next tick skips it).
  CRON_JITTER_SECONDS: String(Math.floor(tickEverySec * 0.4)),
  CRON_RENEW_SCHEDULE: '0 0 1 1 *',
});

const mib = (v: number) => round(v, 1);

/** A database server of the run's own (SecantusDB slows as it ages under writes: see runFleet). */
export type FreshDbServer = () => Promise<{ uri: string; stop(): Promise<void> }>;

async function oneRun(dbBaseUri: string, calendars: number, stale: number, replicaCount: number, o: FleetOptions, log: (m: string) => void, fresh?: FreshDbServer): Promise<FleetRun> {
  const server = fresh ? await fresh() : null;
  try {
    return await measureRun(server?.uri ?? dbBaseUri, calendars, stale, replicaCount, o, log);
  } finally {
    await server?.stop();
  }
}

async function measureRun(dbBaseUri: string, calendars: number, stale: number, replicaCount: number, o: FleetOptions, log: (m: string) => void): Promise<FleetRun> {
  const emu = await startEmulator();
  const db = await openBenchDb(dbBaseUri, `fleet_${calendars}_${replicaCount}`);
  const fleet = await startReplicaFleet({ emu, dbUri: db.uri, env: FLEET_ENV(o.tickEverySec) });
  try {
    for (let i = 0; i < replicaCount; i++) await fleet.spawn();
    const accountId = new Types.ObjectId(await fleet.accountId());
    const { Calendar } = db.models;

    // Every calendar synced a minute ago: not stale, nothing due.
    const t0 = Date.now();
    const recently = new Date(Date.now() - 60_000);
    const batch = 2_000;
    for (let from = 0; from < calendars; from += batch) {
      const docs = Array.from({ length: Math.min(batch, calendars - from) }, (_, j) => ({
        accountId,
        googleCalendarId: `fleet-${from + j}@group.calendar.google.com`,
        state: 'idle',
        lastSyncedAt: recently,
        priority: IDLE_PRIORITY,
        dueAt: NEVER,
      }));
      await Calendar.insertMany(docs);
    }
    const insertMs = Date.now() - t0;
    const staleIds = (await Calendar.find({}, { _id: 1, googleCalendarId: 1 }).sort({ _id: 1 }).limit(stale).lean()).map((c) => {
      emu.createCalendar(c.googleCalendarId);
      return c._id;
    });
    log(`fleet ${calendars}×${replicaCount}: ${calendars} calendars inserted in ${insertMs} ms`);

    // Backdate the stale subset between two ticks, once every replica has finished the earlier one,
    // so the first tick that starts after it (on every replica at once) is the measured one. On a
    // loaded machine a tick can start or end seconds late, so ticks are told apart by their start.
    const period = o.tickEverySec * 1000;
    const untilTick = () => period - (Date.now() % period);
    const resyncRecords = (r: ChildReplica, from: number) => r.logs.slice(from).filter((l) => l.job === 'resync' && l.msg === 'cron job finished');
    const startOf = (l: LogLine) => (l.time ?? 0) - (l.ms ?? 0);
    // Right after a tick boundary. A tick running meanwhile (ticks can outlast the period on a loaded
    // machine, and the backdating can outlast a tick) may mark part of the subset: every tick that
    // ends after the backdating began is counted, so the sum is exact either way.
    await sleepMs(untilTick() + 200);
    const rssBefore = await Promise.all(fleet.replicas.map((r) => r.memory()));
    const logsBefore = fleet.replicas.map((r) => r.logs.length);
    const backdatedAt = Date.now();
    await Calendar.updateMany({ _id: { $in: staleIds } }, { $set: { lastSyncedAt: new Date(Date.now() - 2 * 3_600_000) } });
    const callsBefore = emu.stats()['events.list'] ?? 0;

    // Every tick that ended after the backdating, on every replica, until the cycle is done: the
    // marks are summed over them (one tick marks the lot; which one depends on a loaded machine's
    // timing), tick time is the slowest of them per replica.
    // Cheap checks first (the emulator's call count, one indexed existence read), so the bench's own
    // polling does not load the database it measures; the exact check runs once they pass.
    const cycleDone = async () =>
      (emu.stats()['events.list'] ?? 0) - callsBefore >= stale &&
      !(await Calendar.exists({ priority: { $lt: IDLE_PRIORITY } })) &&
      !(await Calendar.exists({ _id: { $in: staleIds }, lastSyncedAt: { $lt: new Date(backdatedAt) } }));
    const allSynced = await waitFor(cycleDone, 900_000, 250);
    const doneAt = Date.now();
    const windows = fleet.replicas.map((r, i) => resyncRecords(r, logsBefore[i]!).filter((l) => (l.time ?? 0) >= backdatedAt && startOf(l) <= doneAt));
    const markedBy = (l: LogLine) => (l.result as { marked?: { stale?: number } } | undefined)?.marked?.stale ?? 0;
    const markedPerReplica = windows.map((w) => w.reduce((n, l) => n + markedBy(l), 0));
    const marked = markedPerReplica.reduce((a, b) => a + b, 0);
    const markingStarts = windows.flat().filter((l) => markedBy(l) > 0).map(startOf);
    if (markingStarts.length === 0) throw new Error('no tick marked the stale calendars');
    const tickAt = Math.min(...markingStarts);
    const tickMs = windows.map((w) => Math.max(0, ...w.map((l) => l.ms ?? 0)));
    const tickMedianMs = windows.map((w) => median(w.map((l) => l.ms ?? 0)));
    const markingTickMs = windows.map((w) => {
      const marking = w.filter((l) => markedBy(l) > 0).map((l) => l.ms ?? 0);
      return marking.length ? Math.max(...marking) : null;
    });
    const allSyncedMs = doneAt - tickAt;
    log(`fleet ${calendars}×${replicaCount}: ticks marked ${markedPerReplica.join(' + ')}; slowest tick per replica ${tickMs.join(' / ')} ms, median ${tickMedianMs.join(' / ')} ms; ${windows.map((w) => w.length).join('/')} ticks`);
    // Let in-flight work settle, then count: a second sync of a calendar would show up here.
    await sleepMs(2_000);
    // The tick's own cost, without the cycle's syncs competing for the database: the first tick of
    // each replica that starts once the fleet is quiet.
    const quietAt = Date.now();
    const idleTicks = fleet.replicas.map((r) => r.logs.length);
    const idleTick = (r: ChildReplica, i: number) => resyncRecords(r, idleTicks[i]!).find((l) => startOf(l) >= quietAt);
    await waitFor(async () => fleet.replicas.every((r, i) => idleTick(r, i) !== undefined), 120_000, 250);
    const idleTickMs = fleet.replicas.map((r, i) => idleTick(r, i)?.ms ?? NaN);
    log(`fleet ${calendars}×${replicaCount}: idle tick per replica ${idleTickMs.join(' / ')} ms`);
    const eventsListCalls = (emu.stats()['events.list'] ?? 0) - callsBefore;
    const syncedTwice = await Calendar.countDocuments({ _id: { $in: staleIds }, 'counters.full': { $gt: 1 } });
    const after = await Promise.all(fleet.replicas.map((r) => r.memory()));
    log(`fleet ${calendars}×${replicaCount}: ${eventsListCalls} events.list for ${stale} stale, all synced ${allSynced} after ${allSyncedMs} ms`);
    return {
      calendars,
      stale,
      replicas: replicaCount,
      marked,
      markedPerReplica,
      tickMs,
      tickMedianMs,
      markingTickMs,
      idleTickMs,
      eventsListCalls,
      callsPerStaleCalendar: round(eventsListCalls / stale, 2),
      allSyncedMs,
      allSynced,
      syncedTwice,
      rssBeforeMiB: rssBefore.map((m) => mib(m.rssMiB)),
      rssAfterMiB: after.map((m) => mib(m.rssMiB)),
      rssPeakMiB: after.map((m) => mib(m.hwmMiB)),
      insertMs,
    };
  } finally {
    await fleet.close();
    await emu.close();
    await db.drop();
  }
}

/**
 * Every size × replica count in turn. With `fresh`, each run gets a database server of its own:
 * SecantusDB serves writes ever more slowly as a long run of them goes on, so runs sharing one
 * server would be measured on a database aged by the runs before them (always the 3-replica and
 * the 10,000-calendar ones).
 */
export async function runFleet(dbBaseUri: string, o: FleetOptions, log: (m: string) => void, fresh?: FreshDbServer): Promise<FleetResult> {
  const runs: FleetRun[] = [];
  const failures: string[] = [];
  for (const calendars of o.sizes) {
    for (const replicas of o.replicas) {
      // One failed run (a size the machine cannot carry in time) keeps the others' figures.
      try {
        runs.push(await oneRun(dbBaseUri, calendars, Math.min(o.stale, calendars), replicas, o, log, fresh));
      } catch (err) {
        failures.push(`${calendars}×${replicas}: ${(err as Error).message}`);
        log(`fleet ${calendars}×${replicas}: FAILED: ${(err as Error).message}`);
      }
    }
  }
  if (runs.length === 0) throw new Error(`every fleet run failed: ${failures.join('; ')}`);
  const callsPerSlice = Math.floor(sliceBudget(defaultConfig().quota.perUserPerMinute, QUOTA_SLICES) * PRIORITY_SHARE[PRIORITY.safetyNet]!);
  const sliceMs = QUOTA_WINDOW_MS / QUOTA_SLICES;
  const quotaFloor = { callsPerSlice, sliceMs, ms: Math.ceil(o.stale / callsPerSlice) * sliceMs };
  return { options: o, env: FLEET_ENV(o.tickEverySec), runs, failures, serverPerRun: Boolean(fresh), quotaFloor };
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}
