// Scenario "fleet-pings": many calendars changed at once, real pings through a round-robin balancer
// to child-process replicas; latency from each Google write to the mirror holding the new etag.
import { startEmulator } from '../../src/emulator/index.js';
import { IDLE_PRIORITY } from '../../src/sync/priority.js';
import { startReplicaFleet } from '../lib/replicas.js';
import { eventBody, openBenchDb, waitFor } from '../lib/setup.js';
import { percentile, round } from '../lib/stats.js';

export interface FleetPingsOptions {
  calendars: number;
  replicas: number;
}

export interface FleetPingsResult {
  options: FleetPingsOptions;
  registerMs: number;
  /** Latencies, write → mirror, ms. */
  latency: { n: number; p50: number; p99: number; max: number; mean: number };
  reached: number;
  eventsListCalls: number;
  pingsPerReplica: number[];
}

export async function runFleetPings(dbBaseUri: string, o: FleetPingsOptions, log: (m: string) => void): Promise<FleetPingsResult> {
  const emu = await startEmulator();
  const db = await openBenchDb(dbBaseUri, 'fleet_pings');
  const fleet = await startReplicaFleet({ emu, dbUri: db.uri });
  try {
    for (let i = 0; i < o.replicas; i++) await fleet.spawn();
    const accountId = await fleet.accountId();
    const gcals = Array.from({ length: o.calendars }, (_, i) => `changed-${i}@group.calendar.google.com`);
    const t0 = Date.now();
    for (const g of gcals) {
      emu.createCalendar(g);
      await fleet.admin('POST', '/admin/calendars', { accountId, googleCalendarId: g });
    }
    const { Calendar, Event } = db.models;
    const firstSyncs = await waitFor(
      async () => (await Calendar.countDocuments({ $or: [{ lastSyncedAt: null }, { priority: { $lt: IDLE_PRIORITY } }] })) === 0,
      300_000,
      200,
    );
    if (!firstSyncs) throw new Error('the first syncs did not finish');
    const registerMs = Date.now() - t0;
    log(`fleet-pings: ${o.calendars} calendars registered and synced in ${registerMs} ms`);
    const servedBefore = new Map(fleet.lb.served);
    const callsBefore = emu.stats()['events.list'] ?? 0;

    // One write per calendar, all at once: each queues a real ping to the balancer.
    const pending = new Map<string, { etag: string; at: number }>();
    for (const [i, g] of gcals.entries()) {
      const at = Date.now();
      const ev = emu.insertEvent(g, eventBody(i, `fleet change ${i}`));
      pending.set(ev.id!, { etag: ev.etag!, at });
    }
    const latencies: number[] = [];
    await waitFor(
      async () => {
        const rows = await Event.find({ googleEventId: { $in: [...pending.keys()] } }, { googleEventId: 1, etag: 1 }).lean();
        const now = Date.now();
        for (const r of rows) {
          const p = pending.get(r.googleEventId);
          if (p && r.etag === p.etag) {
            latencies.push(now - p.at);
            pending.delete(r.googleEventId);
          }
        }
        return pending.size === 0;
      },
      300_000,
      50,
    );
    const sorted = [...latencies].sort((a, b) => a - b);
    const result: FleetPingsResult = {
      options: o,
      registerMs,
      latency: {
        n: sorted.length,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        max: sorted.at(-1) ?? NaN,
        mean: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
      },
      reached: sorted.length,
      eventsListCalls: (emu.stats()['events.list'] ?? 0) - callsBefore,
      pingsPerReplica: fleet.lb.backends.map((b) => (fleet.lb.served.get(b) ?? 0) - (servedBefore.get(b) ?? 0)),
    };
    log(`fleet-pings: ${result.reached}/${o.calendars} reached the mirror, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`);
    return result;
  } finally {
    await fleet.close();
    await emu.close();
    await db.drop();
  }
}
