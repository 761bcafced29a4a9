// Scenario 4: ping burst coalescing. The whole server listens on 127.0.0.1 with one registered
// calendar; B of its events are patched in the emulator, which sends one real ping per write.
// One run with the writes back to back, one (or more) with the writes spread a few ms apart, so
// pings keep arriving while syncs run. Counted: pings delivered, sync passes (the calendar's
// counters), events.list calls, and the time until the mirror holds every new etag. Without
// coalescing each ping would cost one sync (B calls).
// The server runs with the production default pacing, set explicitly (SYNC_MIN_INTERVAL_MS=<the
// default from the config schema>), and each burst starts on a quiet calendar (a pause longer than
// the interval), so the first ping of a burst is not paced against an earlier sync.
import { Types } from 'mongoose';
import { startEmulator } from '../../src/emulator/index.js';
import { defaultMinIntervalMs, mirrorMatches, passRecords, seedEvents, sleepMs, startServerStack, waitFor } from '../lib/setup.js';
import { passCount } from './latency.js';

export interface BurstOptions {
  pings: number;
  /** One run per spacing between the writes: 0 = all writes before the first ping goes out. */
  spacingsMs: number[];
}

export interface BurstRun {
  spacingMs: number;
  pingsDelivered: number;
  pingsFailed: number;
  syncPasses: number;
  /** Passes recorded in sync_runs during the run, and those that found no change. */
  passRecords: { recorded: number; empty: number };
  eventsListCalls: number;
  mirroredAllMs: number | null;
  mirrorExact: boolean;
}

export interface BurstResult {
  options: BurstOptions;
  /** SYNC_MIN_INTERVAL_MS the server ran with (the production default, passed explicitly). */
  minIntervalMs: number;
  runs: BurstRun[];
}

const GCAL = 'bench-burst@group.calendar.google.com';

export async function runBurst(dbBaseUri: string, opts: BurstOptions, log: (m: string) => void): Promise<BurstResult> {
  const emu = await startEmulator();
  const minIntervalMs = defaultMinIntervalMs();
  const stack = await startServerStack({ dbBaseUri, emu, name: 'burst', env: { SYNC_MIN_INTERVAL_MS: String(minIntervalMs) } });
  try {
    const { Calendar, Event } = stack.db.models;
    emu.createCalendar(GCAL);
    const ids = seedEvents(emu, GCAL, Math.max(100, opts.pings)).map((e) => e.id!);
    const calendarId = await stack.register(GCAL);
    const ready = await waitFor(async () => {
      const c = await Calendar.findById(calendarId, { lastSyncedAt: 1, state: 1 }).lean();
      return Boolean(c?.lastSyncedAt) && c?.state === 'idle';
    }, 120_000);
    if (!ready) throw new Error('the registered calendar did not finish its first sync within 120 s');
    await emu.flushPings();
    await stack.app.services.engine.onIdle();
    const oid = new Types.ObjectId(calendarId);

    const runs: BurstRun[] = [];
    for (const spacingMs of opts.spacingsMs) {
      await sleepMs(minIntervalMs + 500);
      const since = new Date();
      const listBefore = emu.stats()['events.list'] ?? 0;
      const pingsBefore = emu.pingStats();
      const passesBefore = await passCount(Calendar, calendarId);
      const started = performance.now();
      const want = new Map<string, string>();
      for (let k = 0; k < opts.pings; k++) {
        const id = ids[k]!;
        want.set(id, emu.patchEvent(GCAL, id, { summary: `burst ${spacingMs} ms, change ${k}` }).etag!);
        if (spacingMs > 0) await new Promise((r) => setTimeout(r, spacingMs));
      }
      let mirroredAllMs: number | null = null;
      await waitFor(
        async () => {
          const docs = await Event.find({ calendarId: oid, googleEventId: { $in: [...want.keys()] } }, { googleEventId: 1, etag: 1 }).lean();
          const ok = docs.length === want.size && docs.every((d) => want.get(d.googleEventId) === d.etag);
          if (ok) mirroredAllMs = performance.now() - started;
          return ok;
        },
        60_000,
        20,
      );
      await emu.flushPings();
      await stack.app.services.engine.onIdle();
      const pingsAfter = emu.pingStats();
      const syncPasses = (await passCount(Calendar, calendarId)) - passesBefore;
      const run: BurstRun = {
        spacingMs,
        pingsDelivered: pingsAfter.delivered - pingsBefore.delivered,
        pingsFailed: pingsAfter.failed - pingsBefore.failed,
        syncPasses,
        passRecords: await passRecords(stack, calendarId, since, syncPasses),
        eventsListCalls: (emu.stats()['events.list'] ?? 0) - listBefore,
        mirroredAllMs,
        mirrorExact: await mirrorMatches(stack.db.models, calendarId, emu, GCAL),
      };
      runs.push(run);
      log(`burst (${spacingMs} ms apart, SYNC_MIN_INTERVAL_MS=${minIntervalMs}): ${run.pingsDelivered} pings → ${run.syncPasses} sync passes (${run.passRecords.empty} found no change), ${run.eventsListCalls} events.list calls`);
    }
    return { options: opts, minIntervalMs, runs };
  } finally {
    await stack.close();
    await emu.close();
  }
}
