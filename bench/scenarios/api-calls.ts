// Scenario 1: API call reduction. C calendars × E events; then R rounds in which a few events of
// every calendar change. Each round, three pollers look at the same emulator state, one after the
// other (the order rotates every round so machine noise spreads evenly):
//   - calsync incremental: the engine with sync tokens (INCREMENTAL_SYNC_ENABLED=true);
//   - calsync full:        the same engine with INCREMENTAL_SYNC_ENABLED=false (the rollback path:
//                          a windowed full re-list with maxResults 2500, stored and reconciled);
//   - seed poller:         the seed's full re-list (maxResults 250, orderBy startTime), list only.
// A final "idle" round changes nothing. events.list calls come from the emulator's own counters.
// Pacing is off here, explicitly (SYNC_MIN_INTERVAL_MS=0): a round stands for one poll cycle, and
// with the rotating order two rounds of the same engine can run < 1 s apart, where the production
// pacing would only add sleep to the measured wall time. It changes no call count (scenario 2
// measures pacing).
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { SyncEngine } from '../../src/sync/engine.js';
import type { SyncOutcome } from '../../src/sync/outcome.js';
import { seedListAll } from '../lib/seed-poller.js';
import { benchClient, benchConfig, createCalendarRow, eventBody, mapPool, mirrorMatches, openBenchDb, REFRESH_TOKEN, seedEvents } from '../lib/setup.js';
import { countCalls, countingClient, mean } from '../lib/stats.js';

export interface ApiCallsOptions {
  calendars: number;
  events: number;
  rounds: number;
  /** Changes per calendar per round (cycling insert, patch, delete). */
  changes: number;
}

const VARIANTS = ['calsync incremental', 'calsync full (INCREMENTAL_SYNC_ENABLED=false)', 'seed poller (250/page, orderBy startTime)'] as const;
type Variant = (typeof VARIANTS)[number];

export interface VariantRound {
  calls: number;
  items: number;
  ms: number;
}

export interface ApiCallsResult {
  options: ApiCallsOptions;
  concurrency: number;
  /** SYNC_MIN_INTERVAL_MS of both engines (0: pacing off, see the header). */
  minIntervalMs: number;
  initialFullSync: { calls: number; ms: number };
  /** Per variant: one entry per changing round, then the idle round. */
  rounds: Record<Variant, VariantRound[]>;
  idle: Record<Variant, VariantRound>;
  summary: Array<{ variant: Variant; callsPerRound: number; itemsPerRound: number; msPerRound: number; idleCalls: number; idleMs: number }>;
  reduction: { vsCalsyncFull: number; vsSeedPoller: number; idleVsSeedPoller: number };
  check: { mirrorsExact: boolean; failedPasses: number; seedListedAll: boolean };
}

export async function runApiCalls(dbBaseUri: string, opts: ApiCallsOptions, log: (m: string) => void): Promise<ApiCallsResult> {
  const emu = await startEmulator();
  const db = await openBenchDb(dbBaseUri, 'api_calls');
  const engines: SyncEngine[] = [];
  try {
    emu.addAccount(REFRESH_TOKEN);
    const gcalIds = Array.from({ length: opts.calendars }, (_, i) => `bench-api-${i}@group.calendar.google.com`);
    const live = new Map<string, string[]>();
    for (const id of gcalIds) {
      emu.createCalendar(id);
      live.set(id, seedEvents(emu, id, opts.events).map((e) => e.id!));
    }

    const outcomes: SyncOutcome[] = [];
    const counters = { incremental: { items: 0 }, full: { items: 0 }, seed: { items: 0 } };
    const makeEngine = (incremental: boolean, counter: { items: number }) => {
      const config = benchConfig(emu, { MONGODB_URI: db.uri, INCREMENTAL_SYNC_ENABLED: String(incremental), SYNC_MIN_INTERVAL_MS: '0' });
      const api = countingClient(benchClient(emu), counter);
      const engine = new SyncEngine({ models: db.models, sync: config.sync, clientFor: () => api, onSyncFinished: (o) => void outcomes.push(o) });
      engines.push(engine);
      return { engine, concurrency: config.sync.concurrency, minIntervalMs: config.sync.minIntervalMs };
    };
    const incr = makeEngine(true, counters.incremental);
    const full = makeEngine(false, counters.full);
    // Two mirrors of the same calendars in one database: one per engine (rows are distinct calendars to calsync).
    const incrRows = await Promise.all(gcalIds.map((g) => createCalendarRow(db.models, g)));
    const fullRows = await Promise.all(gcalIds.map((g) => createCalendarRow(db.models, g)));
    const seedApi = countingClient(benchClient(emu), counters.seed);

    const syncAll = async (engine: SyncEngine, rows: string[]) => {
      for (const id of rows) engine.requestSync(id, { reason: 'bench' });
      await engine.onIdle();
    };
    log(`initial full sync of ${opts.calendars} × ${opts.events} events (two mirrors)`);
    const initial = await countCalls(emu, 'events.list', () => syncAll(incr.engine, incrRows));
    await syncAll(full.engine, fullRows);

    const seedListedAll = { ok: true };
    const run: Record<Variant, () => Promise<void>> = {
      [VARIANTS[0]]: () => syncAll(incr.engine, incrRows),
      [VARIANTS[1]]: () => syncAll(full.engine, fullRows),
      [VARIANTS[2]]: async () => {
        await mapPool(gcalIds, incr.concurrency, async (g) => {
          const listed = await seedListAll(seedApi, g);
          if (listed.events.length !== live.get(g)!.length) seedListedAll.ok = false;
        });
      },
    };
    const counterOf: Record<Variant, { items: number }> = { [VARIANTS[0]]: counters.incremental, [VARIANTS[1]]: counters.full, [VARIANTS[2]]: counters.seed };
    const measure = async (variant: Variant): Promise<VariantRound> => {
      const counter = counterOf[variant];
      const itemsBefore = counter.items;
      const { calls, ms } = await countCalls(emu, 'events.list', () => run[variant]());
      return { calls, items: counter.items - itemsBefore, ms };
    };

    const rounds = Object.fromEntries(VARIANTS.map((v) => [v, [] as VariantRound[]])) as Record<Variant, VariantRound[]>;
    let serial = opts.events;
    for (let r = 0; r < opts.rounds; r++) {
      for (const g of gcalIds) applyChanges(emu, g, live.get(g)!, opts.changes, () => serial++, r);
      const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]!);
      for (const v of order) rounds[v].push(await measure(v));
      log(`round ${r + 1}/${opts.rounds}: ${VARIANTS.map((v) => `${v.split(' (')[0]} ${rounds[v].at(-1)!.calls} calls ${Math.round(rounds[v].at(-1)!.ms)} ms`).join(', ')}`);
    }
    const idle = {} as Record<Variant, VariantRound>;
    for (const v of VARIANTS) idle[v] = await measure(v);

    const mirrorsExact = (
      await Promise.all(gcalIds.flatMap((g, i) => [mirrorMatches(db.models, incrRows[i]!, emu, g), mirrorMatches(db.models, fullRows[i]!, emu, g)]))
    ).every(Boolean);

    const summary = VARIANTS.map((variant) => ({
      variant,
      callsPerRound: mean(rounds[variant].map((x) => x.calls)),
      itemsPerRound: mean(rounds[variant].map((x) => x.items)),
      msPerRound: mean(rounds[variant].map((x) => x.ms)),
      idleCalls: idle[variant].calls,
      idleMs: idle[variant].ms,
    }));
    const [inc, fullS, seed] = summary as [(typeof summary)[0], (typeof summary)[0], (typeof summary)[0]];
    return {
      options: opts,
      concurrency: incr.concurrency,
      minIntervalMs: incr.minIntervalMs,
      initialFullSync: { calls: initial.calls, ms: initial.ms },
      rounds,
      idle,
      summary,
      reduction: {
        vsCalsyncFull: 100 * (1 - inc.callsPerRound / fullS.callsPerRound),
        vsSeedPoller: 100 * (1 - inc.callsPerRound / seed.callsPerRound),
        // Polling unchanged calendars with their tokens (what the cron's stale re-sync does); with push,
        // an unchanged calendar gets no ping and costs no call at all.
        idleVsSeedPoller: 100 * (1 - inc.idleCalls / seed.idleCalls),
      },
      check: { mirrorsExact, failedPasses: outcomes.filter((o) => o.status !== 'ok').length, seedListedAll: seedListedAll.ok },
    };
  } finally {
    await Promise.all(engines.map((e) => e.close()));
    await db.drop();
    await emu.close();
  }
}

/** `n` changes on one calendar: insert, patch, delete in turn (the patch/delete hit existing events). */
function applyChanges(emu: Emulator, calendarId: string, live: string[], n: number, nextSerial: () => number, round: number): void {
  for (let k = 0; k < n; k++) {
    const op = k % 3;
    if (op === 0 || live.length < 2) {
      live.push(emu.insertEvent(calendarId, eventBody(nextSerial())).id!);
    } else if (op === 1) {
      const id = live[(round * 7 + k * 13) % live.length]!;
      emu.patchEvent(calendarId, id, { summary: `changed in round ${round + 1}` });
    } else {
      const [id] = live.splice((round * 11 + k * 17) % live.length, 1);
      emu.deleteEvent(calendarId, id!);
    }
  }
}
