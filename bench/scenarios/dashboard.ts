// Scenario 5: the dashboard over a large fleet. N calendars (every 10th failed), one active channel
// each, and R stored sync runs spread over the last 24 h; the app is built as in production and
// each page is requested through Fastify's inject (server-side time: queries + HTML, no network).
// Measured per page: median and worst of several requests after one warm-up, and the HTML size;
// plus the three reads the overview makes, timed alone, to show where the time goes.
import { randomBytes, randomUUID } from 'node:crypto';
import { Types } from 'mongoose';
import { buildApp } from '../../src/app.js';
import { channelModel } from '../../src/channels/channel-model.js';
import { loadConfig } from '../../src/config/env.js';
import { summarizeLastHour } from '../../src/ops/alerts.js';
import { syncBucketModel } from '../../src/ops/sync-buckets.js';
import { backfillSyncBuckets } from '../../src/ops/sync-history-backfill.js';
import { syncHistory } from '../../src/ops/sync-history.js';
import { ADMIN_TOKEN, openBenchDb } from '../lib/setup.js';

export interface DashboardOptions {
  calendars: number;
  syncRuns: number;
  /** Timed requests per page (after one warm-up). */
  repeats: number;
}

export interface PageTiming {
  page: string;
  medianMs: number;
  maxMs: number;
  htmlBytes: number;
  rows: number;
}

export interface DashboardResult {
  options: DashboardOptions;
  seedMs: number;
  /** The first overview request of a replica: the fleet counts not kept yet (computed while it waits). */
  coldOverviewMs: number;
  /** The one-time backfill of the seeded runs into the chart buckets (once per database). */
  backfillMs: number;
  pages: PageTiming[];
  /** The overview's reads, each timed alone (median ms). */
  parts: { calendarPage: number; calendarPageHalfway: number; fleet: number; lastHour: number; history24h: number };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

async function timed(repeats: number, run: () => Promise<unknown>): Promise<number[]> {
  await run(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await run();
    ms.push(performance.now() - t0);
  }
  return ms;
}

export async function runDashboard(dbBaseUri: string, opts: DashboardOptions, log: (m: string) => void): Promise<DashboardResult> {
  const db = await openBenchDb(dbBaseUri, 'dashboard');
  const config = loadConfig({
    MONGODB_URI: db.uri,
    PUBLIC_BASE_URL: 'http://127.0.0.1:1',
    GOOGLE_API_ROOT_URL: 'http://127.0.0.1:1/',
    ADMIN_TOKEN,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    CRON_ENABLED: 'false',
    LOG_LEVEL: 'silent',
  });
  const app = await buildApp({ config, conn: db.conn, logger: false });
  try {
    const { SyncRun } = app.services;
    const Channel = channelModel(db.conn);
    await Promise.all([db.models.Calendar.init(), SyncRun.init(), Channel.init()]);
    // Start the app (its once-per-database migrations) on the empty database: the seeded documents
    // below are current ones, not an upgrade to migrate in the first request.
    await app.ready();

    const t0 = performance.now();
    const now = Date.now();
    const accountId = new Types.ObjectId();
    const ids: Types.ObjectId[] = [];
    for (let start = 0; start < opts.calendars; start += 1000) {
      const batch = Array.from({ length: Math.min(1000, opts.calendars - start) }, (_, j) => {
        const i = start + j;
        const _id = new Types.ObjectId();
        ids.push(_id);
        return {
          _id,
          accountId,
          googleCalendarId: `bench-${i}@group.calendar.google.com`,
          state: i % 10 === 0 ? 'failed' : 'idle',
          lastSyncedAt: new Date(now - (i % 3600) * 1000),
          lastError: i % 10 === 0 ? { code: 'permission', message: 'HTTP 403 forbidden', at: new Date(now) } : null,
        };
      });
      await db.models.Calendar.insertMany(batch, { lean: true });
      await Channel.insertMany(
        batch.map((c) => ({
          _id: randomUUID(),
          calendarId: c._id,
          accountId,
          googleCalendarId: c.googleCalendarId,
          tokenHash: 'x',
          status: 'active',
          expiration: new Date(now + 36 * 3_600_000),
        })),
        { lean: true },
      );
    }
    for (let start = 0; start < opts.syncRuns; start += 2000) {
      await SyncRun.insertMany(
        Array.from({ length: Math.min(2000, opts.syncRuns - start) }, (_, j) => {
          const i = start + j;
          return {
            calendarId: ids[i % ids.length],
            mode: i % 12 === 0 ? 'full' : 'incremental',
            outcome: i % 50 === 0 ? 'failed' : 'ok',
            fallbackReason: i % 40 === 0 ? 'token_expired' : null,
            tokenExpired: i % 40 === 0,
            durationMs: 50 + ((i * 37) % 4000),
            apiCalls: i % 12 === 0 ? 4 : 1,
            fullPollCalls: 4,
            finishedAt: new Date(now - ((i * 7919) % 86_400_000)),
          };
        }),
        { lean: true },
      );
    }
    const seedMs = performance.now() - t0;
    log(`dashboard: seeded ${opts.calendars} calendars (+ channels) and ${opts.syncRuns} sync runs in ${(seedMs / 1000).toFixed(1)} s`);
    // The seeded runs were written straight to sync_runs, as by a version before the chart
    // buckets: the first view would count them in once; timed here on its own.
    const Bucket = syncBucketModel(db.conn);
    await Bucket.init();
    const b0 = performance.now();
    await backfillSyncBuckets(db.conn, SyncRun, Bucket);
    const backfillMs = performance.now() - b0;
    log(`dashboard: one-time backfill of ${opts.syncRuns} runs into the chart buckets in ${(backfillMs / 1000).toFixed(1)} s`);

    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const get = async (url: string) => {
      const res = await app.inject({ url, headers: auth });
      if (res.statusCode !== 200) throw new Error(`GET ${url} answered ${res.statusCode}`);
      return res.body;
    };
    // A cursor half-way through the fleet, as the pager links would reach it.
    const middle = (await app.services.views.page({ limit: 1, cursor: undefined })).nextCursor;
    let cursor = middle ?? undefined;
    for (let i = 0; i < Math.floor(opts.calendars / 2 / 1000) && cursor; i++) cursor = (await app.services.views.page({ limit: 1000, cursor })).nextCursor ?? undefined;
    const pages: [string, string][] = [
      ['overview, first page', '/dashboard'],
      ['overview, a page half-way', `/dashboard?cursor=${cursor ?? ''}`],
      ['overview, state=failed', '/dashboard?state=failed'],
      ['one calendar', `/dashboard/calendars/${ids[10]?.toHexString()}`],
    ];
    const c0 = performance.now();
    await get('/dashboard');
    const coldOverviewMs = performance.now() - c0;
    log(`dashboard: first overview of a replica (fleet counts computed while it waits): ${coldOverviewMs.toFixed(0)} ms`);
    const timings: PageTiming[] = [];
    for (const [page, url] of pages) {
      const body = await get(url);
      const ms = await timed(opts.repeats, () => get(url));
      const t: PageTiming = {
        page,
        medianMs: median(ms),
        maxMs: Math.max(...ms),
        htmlBytes: Buffer.byteLength(body),
        rows: body.match(/<tr class="(state|outcome)-/g)?.length ?? 0,
      };
      timings.push(t);
      log(`dashboard: ${page}: median ${t.medianMs.toFixed(0)} ms, max ${t.maxMs.toFixed(0)} ms, ${t.rows} rows, ${(t.htmlBytes / 1024).toFixed(0)} KiB`);
    }
    const part = async (run: () => Promise<unknown>) => median(await timed(opts.repeats, run));
    const parts = {
      calendarPage: await part(() => app.services.views.page({ limit: 100 })),
      calendarPageHalfway: await part(() => app.services.views.page({ limit: 100, cursor })),
      fleet: await part(() => app.services.views.fleet()),
      lastHour: await part(() => summarizeLastHour(SyncRun)),
      history24h: await part(() => syncHistory(Bucket)),
    };
    log(`dashboard: reads alone (median): ${Object.entries(parts).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ')}`);
    return { options: opts, seedMs, coldOverviewMs, backfillMs, pages: timings, parts };
  } finally {
    await app.close();
    await db.drop();
  }
}
