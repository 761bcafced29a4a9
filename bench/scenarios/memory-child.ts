// Child process of scenario 3 (run with `node --expose-gc --import tsx`): one full sync of a big
// calendar, either by calsync's engine (page by page, 2500 per page) or by the seed's approach
// (all pages of 250 into one array, then one bulk write). Prints one JSON line with its numbers.
// The emulator runs in the parent, so its memory is not counted here.
import { Types } from 'mongoose';
import type { calendar_v3 } from 'googleapis';
import type { Emulator } from '../../src/emulator/index.js';
import { SyncEngine } from '../../src/sync/engine.js';
import { seedListAll, seedStoreAll } from '../lib/seed-poller.js';
import { benchClient, benchConfig, createCalendarRow, openBenchDb } from '../lib/setup.js';

export interface MemoryChildInput {
  mode: 'engine' | 'seed';
  emulatorUrl: string;
  dbBaseUri: string;
  googleCalendarId: string;
}

export interface MemoryChildOutput {
  mode: MemoryChildInput['mode'];
  events: number;
  apiCalls: number;
  wallMs: number;
  baseline: { rss: number; heapUsed: number };
  peak: { rss: number; heapUsed: number; external: number };
  /** Highest heapUsed right after a forced full GC (every LIVE_EVERY_MS): the live heap, garbage excluded. */
  peakLiveHeap: number;
  /** process.resourceUsage().maxRSS, bytes: the kernel's high-water mark for the whole process life. */
  maxRss: number;
  samples: number;
}

const LIVE_EVERY_MS = 500;
const input = JSON.parse(process.argv[2] ?? '{}') as MemoryChildInput;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

// Only url/tokenUrl are read from the emulator by the client and config helpers.
const emu = { url: input.emulatorUrl, tokenUrl: `${input.emulatorUrl}/token` } as Emulator;
const db = await openBenchDb(input.dbBaseUri, `memory_${input.mode}`);
try {
  const calendarId = await createCalendarRow(db.models, input.googleCalendarId);
  const api: calendar_v3.Calendar = benchClient(emu);
  const config = benchConfig(emu, { MONGODB_URI: db.uri });
  const engine = new SyncEngine({ models: db.models, sync: config.sync, clientFor: () => api });
  let apiCalls = 0;
  // Warm-up: load every code path (OAuth token, one tiny list, one write) before the baseline.
  await api.events.list({ calendarId: input.googleCalendarId, maxResults: 1 });
  await db.models.Event.deleteMany({ calendarId: new Types.ObjectId() });

  gc();
  gc();
  const base = process.memoryUsage();
  const peak = { rss: base.rss, heapUsed: base.heapUsed, external: base.external };
  let samples = 0;
  const sample = () => {
    const m = process.memoryUsage();
    samples++;
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.external = Math.max(peak.external, m.external);
  };
  const sampler = setInterval(sample, 5);
  // Live heap: a forced full GC every LIVE_EVERY_MS (the same cadence for both modes), then heapUsed.
  let peakLiveHeap = base.heapUsed;
  const live = () => {
    gc();
    peakLiveHeap = Math.max(peakLiveHeap, process.memoryUsage().heapUsed);
  };
  const liveSampler = setInterval(live, LIVE_EVERY_MS);

  const started = performance.now();
  if (input.mode === 'engine') {
    const run = await engine.syncCalendar(calendarId);
    const pass = run.passes[0];
    if (!pass || pass.status !== 'ok') throw new Error(`engine sync failed: ${JSON.stringify(run)}`);
    apiCalls = pass.apiCalls;
  } else {
    const listed = await seedListAll(api, input.googleCalendarId);
    sample();
    live();
    await seedStoreAll(db.models.Event, new Types.ObjectId(calendarId), listed.events);
    apiCalls = listed.calls;
  }
  const wallMs = performance.now() - started;
  sample();
  clearInterval(sampler);
  clearInterval(liveSampler);
  await engine.close();

  const events = await db.models.Event.countDocuments({ calendarId: new Types.ObjectId(calendarId) });
  const out: MemoryChildOutput = {
    mode: input.mode,
    events,
    apiCalls,
    wallMs,
    baseline: { rss: base.rss, heapUsed: base.heapUsed },
    peak,
    peakLiveHeap,
    maxRss: process.resourceUsage().maxRSS * 1024,
    samples,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await db.drop();
}
