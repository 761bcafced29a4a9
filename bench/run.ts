// `npm run bench`: runs the scenarios (bench/scenarios/), writes bench/results/latest.json plus a
// dated copy, and regenerates docs/benchmarks.md. One local database for the whole run (stopped at
// the end); each scenario gets its own emulator and its own database name.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLocalDb } from '../scripts/lib/local-db.js';
import { startSecantusDb } from '../scripts/lib/secantusdb.js';
import { renderMarkdown, type BenchResults, type ScenarioKey, type ScenarioProvenance } from './lib/report.js';
import { runApiCalls } from './scenarios/api-calls.js';
import { runBurst } from './scenarios/burst.js';
import { runChangeFeed } from './scenarios/change-feed.js';
import { runDashboard } from './scenarios/dashboard.js';
import { runFleet } from './scenarios/fleet.js';
import { runFleetPings } from './scenarios/fleet-pings.js';
import { runIngest } from './scenarios/ingest.js';
import { runLatency } from './scenarios/latency.js';
import { runMemory } from './scenarios/memory.js';

const HELP = `usage: npm run bench -- [options]
  --quick                 small sizes, < 1 min (smoke check); does not touch docs/ unless --docs
  --scale X               multiply the sizes (events per calendar, memory events, latency changes, burst pings) by X
  --only LIST             comma-separated subset of: api,latency,memory,burst,dashboard,fleet,fleet-pings,ingest,change-feed
  --calendars N --events N --rounds N --changes N      scenario 1 (API calls)
  --latency-changes N --spacing-ms N                    scenario 2 (latency): the stream, run with pacing off and with the default
  --isolated-changes N --isolated-spacing-ms N          scenario 2: isolated changes with the default pacing (not scaled)
  --memory-events N                                     scenario 3 (memory)
  --burst-pings N                                       scenario 4 (burst)
  --dashboard-calendars N --dashboard-runs N            scenario 5 (dashboard over a large fleet; not scaled)
  --fleet-sizes N,N --fleet-stale N                     scenario 6 (fleet: safety net, 1 vs 3 replicas)
  --fleet-ping-calendars N                              scenario 7 (changed at once, 3 replicas)
  --ingest-seconds N                                    scenario 8 (ping ingestion, per load run)
  --ingest-runs N                                       scenario 8 (load runs per target and mode; route and webhook alternate)
  --feed-changes N --feed-spacing-ms N                  scenario 9 (change feed): the delay stream (changes scaled)
  --feed-burst N --feed-burst-calendars N               scenario 9: events inserted at once, in one calendar then over N calendars (burst scaled)
  --docs / --no-docs      force / skip regenerating docs/benchmarks.md`;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const { values: a } = parseArgs({
  args: argv,
  options: {
    quick: { type: 'boolean', default: false },
    scale: { type: 'string' },
    only: { type: 'string' },
    calendars: { type: 'string' },
    events: { type: 'string' },
    rounds: { type: 'string' },
    changes: { type: 'string' },
    'latency-changes': { type: 'string' },
    'spacing-ms': { type: 'string' },
    'isolated-changes': { type: 'string' },
    'isolated-spacing-ms': { type: 'string' },
    'memory-events': { type: 'string' },
    'burst-pings': { type: 'string' },
    'dashboard-calendars': { type: 'string' },
    'dashboard-runs': { type: 'string' },
    'fleet-sizes': { type: 'string' },
    'fleet-stale': { type: 'string' },
    'fleet-ping-calendars': { type: 'string' },
    'ingest-seconds': { type: 'string' },
    'ingest-runs': { type: 'string' },
    'feed-changes': { type: 'string' },
    'feed-spacing-ms': { type: 'string' },
    'feed-burst': { type: 'string' },
    'feed-burst-calendars': { type: 'string' },
    docs: { type: 'boolean' },
    'no-docs': { type: 'boolean' },
    help: { type: 'boolean', default: false },
  },
});
if (a.help) {
  console.log(HELP);
  process.exit(0);
}

const num = (name: string, v: string | undefined, fallback: number): number => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
};
const scale = num('scale', a.scale, 1);
const sized = (n: number) => Math.max(1, Math.round(n * scale));
const d = a.quick
  ? { calendars: 3, events: 500, rounds: 2, changes: 5, latencyChanges: 30, spacingMs: 100, latencyInitial: 100, isolatedChanges: 5, isolatedSpacingMs: 1_500, memoryEvents: 5_000, burst: 50, dashboardCalendars: 1_000, dashboardRuns: 2_000, fleetSizes: [50, 200], fleetStale: 20, tickEverySec: 5, fleetPingCalendars: 10, ingestSec: 2, ingestRuns: 2 }
  : { calendars: 10, events: 2_000, rounds: 3, changes: 5, latencyChanges: 200, spacingMs: 150, latencyInitial: 500, isolatedChanges: 20, isolatedSpacingMs: 1_500, memoryEvents: 20_000, burst: 200, dashboardCalendars: 10_000, dashboardRuns: 20_000, fleetSizes: [1_000, 10_000], fleetStale: 1_000, tickEverySec: 10, fleetPingCalendars: 100, ingestSec: 4, ingestRuns: 4 };
const int = (name: string, v: string | undefined, fallback: number) => Math.round(num(name, v, fallback));
const feedDefaults = a.quick ? { changes: 9, spacingMs: 1_500, burst: 300, burstCalendars: 3 } : { changes: 45, spacingMs: 1_500, burst: 2_000, burstCalendars: 10 };
const feedChanges = int('feed-changes', a['feed-changes'], sized(feedDefaults.changes));
const sizes = {
  api: {
    calendars: int('calendars', a.calendars, d.calendars),
    events: int('events', a.events, sized(d.events)),
    rounds: int('rounds', a.rounds, d.rounds),
    changes: int('changes', a.changes, d.changes),
  },
  latency: {
    changes: int('latency-changes', a['latency-changes'], sized(d.latencyChanges)),
    spacingMs: int('spacing-ms', a['spacing-ms'], d.spacingMs),
    initialEvents: sized(d.latencyInitial),
    isolatedChanges: int('isolated-changes', a['isolated-changes'], d.isolatedChanges),
    isolatedSpacingMs: int('isolated-spacing-ms', a['isolated-spacing-ms'], d.isolatedSpacingMs),
  },
  memory: { events: int('memory-events', a['memory-events'], sized(d.memoryEvents)) },
  burst: { pings: int('burst-pings', a['burst-pings'], sized(d.burst)), spacingsMs: [0, 5] },
  dashboard: {
    calendars: int('dashboard-calendars', a['dashboard-calendars'], d.dashboardCalendars),
    syncRuns: int('dashboard-runs', a['dashboard-runs'], d.dashboardRuns),
    repeats: a.quick ? 3 : 5,
  },
  fleet: {
    sizes: a['fleet-sizes'] ? a['fleet-sizes'].split(',').map((v) => int('fleet-sizes', v, 1)) : d.fleetSizes,
    stale: int('fleet-stale', a['fleet-stale'], d.fleetStale),
    replicas: [1, 3],
    tickEverySec: d.tickEverySec,
  },
  fleetPings: { calendars: int('fleet-ping-calendars', a['fleet-ping-calendars'], d.fleetPingCalendars), replicas: 3 },
  ingest: { durationSec: int('ingest-seconds', a['ingest-seconds'], d.ingestSec), runs: int('ingest-runs', a['ingest-runs'], d.ingestRuns), connections: 10 },
  changeFeed: {
    changes: feedChanges,
    spacingMs: int('feed-spacing-ms', a['feed-spacing-ms'], feedDefaults.spacingMs),
    initialEvents: Math.max(feedChanges, sized(a.quick ? 100 : 500)),
    burstEvents: int('feed-burst', a['feed-burst'], sized(feedDefaults.burst)),
    burstCalendars: int('feed-burst-calendars', a['feed-burst-calendars'], feedDefaults.burstCalendars),
    waitSec: 10,
    pullLimit: 1000,
  },
};
const ALL = ['api', 'latency', 'memory', 'burst', 'dashboard', 'fleet', 'fleet-pings', 'ingest', 'change-feed'] as const;
const only = new Set(a.only ? a.only.split(',').map((s) => s.trim()) : ALL);
for (const s of only) if (!(ALL as readonly string[]).includes(s)) throw new Error(`--only: unknown scenario "${s}" (${ALL.join(', ')})`);
const writeDocs = a['no-docs'] ? false : (a.docs ?? !a.quick);

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench', 'scripts'], { encoding: 'utf8' }).trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

const started = Date.now();
const log = (msg: string) => process.stdout.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`);
const cpus = os.cpus();
const results: BenchResults = {
  version: 2,
  command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
  commit: gitCommit(),
  startedAt: new Date(started).toISOString(),
  durationMs: 0,
  quick: a.quick,
  machine: {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    loadAvgStart: os.loadavg(),
    loadAvgEnd: [],
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  },
  database: { kind: '', note: '' },
  resultsFile: '',
  scenarios: {},
  provenance: {},
  errors: {},
};

log(`sizes: ${JSON.stringify(sizes)}${a.quick ? ' (quick)' : ''}`);
// SecantusDB's TTL sweeper stalls every client while it reads the TTL-indexed collections (MongoDB's
// does not); no run lasts anywhere near a retention window, so it is off (docs/database.md).
const db = await startLocalDb({ log: (m) => log(`database: ${m}`), secantusDb: { ttlSweepSeconds: 0 } });
let failed = false;
try {
  results.database = {
    kind: db.kind === 'secantusdb' ? 'SecantusDB 0.7.0b3 (local, Python MongoDB wire-protocol server over WiredTiger)' : db.kind,
    note:
      db.kind === 'secantusdb'
        ? 'Every mirror write goes through it, so absolute times and events/s are far below what MongoDB gives in production; they are the same handicap for every variant. Each scenario (and each fleet run) gets a server of its own, since SecantusDB serves writes ever more slowly as a long run of them goes on. Its TTL sweeper is off (it stalls every client while it reads the TTL-indexed collections; no run lasts near a retention window).'
        : 'Provisioned by scripts/lib/local-db.ts.',
  };
  // A SecantusDB server of its own per scenario (and per fleet run): it serves writes ever more
  // slowly as a long run of them goes on (measured: ping ingestion at ~30 req/s after the fleet
  // scenario against ~200 on a fresh server), so a shared one would charge each scenario for the
  // ones before it.
  const freshServer = db.kind === 'secantusdb' ? () => startSecantusDb((m) => log(`database: ${m}`), { ttlSweepSeconds: 0 }) : undefined;
  const scenarios: Array<[(typeof ALL)[number], (uri: string) => Promise<void>]> = [
    ['api', async (uri) => void (results.scenarios.apiCalls = await runApiCalls(uri, sizes.api, log))],
    ['latency', async (uri) => void (results.scenarios.latency = await runLatency(uri, sizes.latency, log))],
    ['memory', async (uri) => void (results.scenarios.memory = await runMemory(uri, sizes.memory, log))],
    ['burst', async (uri) => void (results.scenarios.burst = await runBurst(uri, sizes.burst, log))],
    ['dashboard', async (uri) => void (results.scenarios.dashboard = await runDashboard(uri, sizes.dashboard, log))],
    ['fleet', async (uri) => void (results.scenarios.fleet = await runFleet(uri, sizes.fleet, log, freshServer))],
    ['fleet-pings', async (uri) => void (results.scenarios.fleetPings = await runFleetPings(uri, sizes.fleetPings, log))],
    ['ingest', async (uri) => void (results.scenarios.ingest = await runIngest(uri, sizes.ingest, log))],
    ['change-feed', async (uri) => void (results.scenarios.changeFeed = await runChangeFeed(uri, sizes.changeFeed, log))],
  ];
  for (const [name, run] of scenarios) {
    if (!only.has(name)) continue;
    const t = Date.now();
    log(`scenario ${name}: start`);
    const server = freshServer && name !== 'fleet' ? await freshServer() : null;
    try {
      await run(server?.uri ?? db.uri);
      log(`scenario ${name}: done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    } catch (err) {
      failed = true;
      results.errors[name] = (err as Error).message;
      log(`scenario ${name}: FAILED: ${(err as Error).stack ?? String(err)}`);
    } finally {
      await server?.stop();
    }
  }
} finally {
  await db.stop();
}

results.durationMs = Date.now() - started;
results.machine.loadAvgEnd = os.loadavg();
const dir = path.join(root, 'bench', 'results');
const ranHere: ScenarioProvenance = {
  command: results.command,
  commit: results.commit,
  startedAt: results.startedAt,
  loadAvgStart: results.machine.loadAvgStart,
  loadAvgEnd: results.machine.loadAvgEnd,
  resultsFile: '',
};
for (const key of Object.keys(results.scenarios) as ScenarioKey[]) results.provenance[key] = ranHere;
if (a.only && !a.quick) {
  // A partial run keeps the other scenarios of the previous full results, each still credited to
  // the run that measured it, so docs/benchmarks.md never mixes figures without saying so.
  const previous = await readPreviousResults(path.join(dir, 'latest.json'));
  for (const key of Object.keys(previous?.scenarios ?? {}) as ScenarioKey[]) {
    if (results.scenarios[key] || !previous) continue;
    (results.scenarios as Record<string, unknown>)[key] = previous.scenarios[key];
    results.provenance[key] = previous.provenance?.[key] ?? {
      command: previous.command,
      commit: previous.commit,
      startedAt: previous.startedAt,
      loadAvgStart: previous.machine.loadAvgStart,
      loadAvgEnd: previous.machine.loadAvgEnd,
      resultsFile: previous.resultsFile,
    };
  }
}
await mkdir(dir, { recursive: true });
const stamp = results.startedAt.replace(/[:.]/g, '-').replace(/-\d+Z$/, 'Z');
const dated = path.join(dir, `${stamp}${a.quick ? '-quick' : ''}.json`);
results.resultsFile = path.relative(root, dated);
ranHere.resultsFile = results.resultsFile;
const json = `${JSON.stringify(results, null, 2)}\n`;
await writeFile(dated, json);
await writeFile(path.join(dir, a.quick ? 'latest-quick.json' : 'latest.json'), json);
log(`results: ${path.relative(root, dated)}`);
if (writeDocs) {
  await writeFile(path.join(root, 'docs', 'benchmarks.md'), renderMarkdown(results));
  log('docs/benchmarks.md regenerated');
}
log(`finished in ${(results.durationMs / 1000).toFixed(1)} s${failed ? ' with failures' : ''}`);
process.exit(failed ? 1 : 0);

async function readPreviousResults(file: string): Promise<BenchResults | null> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as BenchResults;
    return parsed.version === 2 && !parsed.quick ? parsed : null;
  } catch {
    return null;
  }
}
