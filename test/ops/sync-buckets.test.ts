import t, { type Test } from 'tap';
import { Types } from 'mongoose';
import { pino } from 'pino';
import { createMetrics } from '../../src/metrics/registry.js';
import { countRunInBucket, readBuckets, syncBucketModel, BUCKET_MS } from '../../src/ops/sync-buckets.js';
import { backfillSyncBuckets } from '../../src/ops/sync-history-backfill.js';
import { aggregateRunsByBucket, syncHistory, windowStart } from '../../src/ops/sync-history.js';
import { createSyncObserver } from '../../src/ops/sync-observer.js';
import { syncRunModel } from '../../src/ops/sync-run.js';
import type { SyncOutcome } from '../../src/sync/outcome.js';
import { openSyncTestDb } from '../helpers/sync-db.js';
import { waitFor } from '../helpers/wait-for.js';
import { syncOutcome } from '../helpers/sync-outcome.js';

async function db(t: Test, name: string) {
  const { conn } = await openSyncTestDb(t, name);
  const SyncRun = syncRunModel(conn);
  const Bucket = syncBucketModel(conn);
  await Promise.all([SyncRun.init(), Bucket.init()]);
  return { conn, SyncRun, Bucket };
}

const outcome = (i: number): SyncOutcome =>
  syncOutcome({
    mode: i % 3 === 0 ? 'full' : 'incremental',
    status: i % 5 === 0 ? 'failed' : 'ok',
    errorCode: i % 5 === 0 ? 'transient' : null,
    fallback: i % 4 === 0,
    tokenExpired: i % 8 === 0,
    apiCalls: 1 + (i % 3),
    // Spread over every duration band, the open-ended one included.
    durationMs: [40, 180, 400, 900, 2000, 4000, 8000, 20_000, 50_000, 90_000][i % 10]!,
    eventCount: 250 * (i % 4),
  });

const plain = (m: Map<number, unknown>) => Object.fromEntries([...m].sort(([a], [b]) => a - b));

t.test('the bucket counters the observer keeps agree with an aggregation of the same runs', async (t) => {
  const { SyncRun, Bucket } = await db(t, 'sync-buckets-live');
  const observe = createSyncObserver({ metrics: createMetrics(), SyncRun, log: pino({ level: 'silent' }) });
  const n = 40;
  for (let i = 0; i < n; i++) observe(outcome(i));
  const since = new Date(Date.now() - 3_600_000);
  const until = new Date(Date.now() + BUCKET_MS);
  const bucketed = async () => [...(await readBuckets(Bucket, since, until)).values()].reduce((a, c) => a + c.incremental + c.full, 0);
  await waitFor(async () => (await SyncRun.countDocuments()) === n && (await bucketed()) === n, { what: 'every run stored and counted' });

  const fromRuns = await aggregateRunsByBucket(SyncRun, { since });
  t.ok(fromRuns.size >= 1);
  t.same(plain(await readBuckets(Bucket, since, until)), plain(fromRuns), 'same counters and duration bands per bucket');
  t.equal((await SyncRun.countDocuments({ bucketed: true })) , n, 'each run marked as counted, so the backfill skips it');

  const h = await syncHistory(Bucket);
  t.equal(h.bucketStarts.length, 96);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  t.equal(sum(h.incremental) + sum(h.full), n);
  t.equal(sum(h.failed), 8);
  t.equal(sum(h.fallbacks), 10);
  t.equal(sum(h.tokenExpirations), 5);
});

t.test('the backfill counts runs recorded before the buckets once, even when replicas run it together', async (t) => {
  const { conn, SyncRun, Bucket } = await db(t, 'sync-buckets-backfill');
  const now = Date.now();
  const calendarId = new Types.ObjectId();
  const run = (minutesAgo: number, extra: Record<string, unknown> = {}) => ({
    calendarId,
    mode: 'incremental' as const,
    outcome: 'ok' as const,
    durationMs: 300,
    apiCalls: 1,
    fullPollCalls: 2,
    finishedAt: new Date(now - minutesAgo * 60_000),
    ...extra,
  });
  // Recorded by an older version: in sync_runs only.
  await SyncRun.insertMany([
    run(5),
    run(6, { mode: 'full', outcome: 'failed', durationMs: 7000 }),
    run(3 * 60, { fallbackReason: 'token_expired', tokenExpired: true }),
    run(23 * 60),
    run(30 * 60), // outside the chart window: never charted
  ]);
  // Recorded by this version: stored and counted live.
  const live = [run(4, { bucketed: true }), run(2 * 60, { bucketed: true, durationMs: 20_000 })];
  await SyncRun.insertMany(live);
  for (const r of live) await countRunInBucket(Bucket, r);

  const done = await Promise.all([backfillSyncBuckets(conn, SyncRun, Bucket, now), backfillSyncBuckets(conn, SyncRun, Bucket, now)]);
  t.ok(done.some(Boolean), 'one of the racing replicas ran it');
  t.equal(await backfillSyncBuckets(conn, SyncRun, Bucket, now), false, 'later boots skip it');
  // A replica that checked the marker before the first run wrote it runs it again, whatever the timing.
  await conn.collection('calsync_migrations').deleteMany({});
  t.equal(await backfillSyncBuckets(conn, SyncRun, Bucket, now), true);

  const since = new Date(windowStart(now, 96));
  const until = new Date(now + BUCKET_MS);
  t.same(plain(await readBuckets(Bucket, since, until)), plain(await aggregateRunsByBucket(SyncRun, { since })), 'every run in the window counted exactly once');
  const h = await syncHistory(Bucket, { now });
  t.equal(h.incremental.reduce((a, b) => a + b, 0) + h.full.reduce((a, b) => a + b, 0), 6, 'six runs in the last 24 h, the 30 h old one left out');
});
