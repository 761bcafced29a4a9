import type { Connection } from 'mongoose';
import { BUCKET_COUNTERS, type SyncBucketModel } from './sync-buckets.js';
import { aggregateRunsByBucket, windowStart } from './sync-history.js';
import type { SyncRunModel } from './sync-run.js';

const MARKER = 'sync-run-buckets-v1';
const CHART_BUCKETS = 96;

/**
 * Counts the runs recorded before the bucket counters existed (those without `bucketed: true`) into
 * the buckets of the chart window (the last 24 h; older runs are never charted), once per
 * database. Each bucket's `backfill` counters are *set* from the aggregation, never incremented,
 * so two replicas running it at once write the same values and nothing is counted twice; runs
 * recorded by this code carry `bucketed: true` and are counted only by their live `$inc`.
 * A marker document makes later boots skip it. Cost: one aggregation over the window's runs (the
 * filter on `bucketed` is outside any index, so O(stored runs) on SecantusDB, once).
 * Runs recorded by replicas of an older version after the backfill (a rolling deploy) are not in
 * the charts; they still count in the last-hour summary and alerts, which read sync_runs.
 */
export async function backfillSyncBuckets(conn: Connection, SyncRun: SyncRunModel, Bucket: SyncBucketModel, now = Date.now()): Promise<boolean> {
  const meta = conn.collection<{ _id: string; at: Date }>('calsync_migrations');
  if (await meta.findOne({ _id: MARKER })) return false;
  const since = new Date(windowStart(now, CHART_BUCKETS));
  const counts = await aggregateRunsByBucket(SyncRun, { since, match: { bucketed: { $ne: true } } });
  const ops = [...counts].map(([start, c]) => {
    const backfill: Record<string, unknown> = { bands: Object.fromEntries(c.bands.map((n, i) => [String(i), n])) };
    for (const k of BUCKET_COUNTERS) backfill[k] = c[k];
    const at = new Date(start);
    return { updateOne: { filter: { _id: at }, update: { $set: { backfill }, $setOnInsert: { at } }, upsert: true } };
  });
  if (ops.length) await Bucket.collection.bulkWrite(ops, { ordered: false });
  await meta.updateOne({ _id: MARKER }, { $set: { at: new Date(now) } }, { upsert: true });
  return true;
}
