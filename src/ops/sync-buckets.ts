import { Schema, type Connection, type Model } from 'mongoose';
import type { SyncRunRecord } from './sync-run.js';

/**
 * The dashboard's 24 h charts, counted as runs are recorded: one small document per 15-minute
 * bucket whose counters every replica `$inc`s when it records a sync run. The charts then read at
 * most 96 documents, whatever the fleet size or the number of stored runs (an aggregation over
 * `sync_runs` cost O(runs) and took seconds at 20,000 runs on the test database).
 *
 * Each bucket holds two sets of counters: `live` (incremented with each run recorded by this code)
 * and `backfill` (set, not incremented, by the one-time backfill from runs recorded before it, see
 * sync-history-backfill.ts). Setting makes the backfill idempotent, so replicas racing to run it
 * cannot double count; the reader adds the two.
 */
export const BUCKET_MS = 15 * 60_000;

/** Upper bounds (ms) of the duration bands; the last band is open-ended. */
export const DURATION_BANDS_MS = [100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000] as const;

export const BUCKET_COUNTERS = ['incremental', 'full', 'failed', 'fallbacks', 'tokenExpirations', 'apiCalls', 'fullPollCalls'] as const;
export type BucketCounter = (typeof BUCKET_COUNTERS)[number];

/** The counters of one bucket; `bands[i]` counts runs in duration band i. */
export type BucketCounts = Record<BucketCounter, number> & { bands: number[] };

interface BucketDoc {
  /** The bucket's start. */
  _id: Date;
  /** Same instant as _id: the TTL index cannot be on _id. */
  at: Date;
  live?: Partial<Record<BucketCounter, number>> & { bands?: Record<string, number> };
  backfill?: Partial<Record<BucketCounter, number>> & { bands?: Record<string, number> };
}

const bucketSchema = new Schema<BucketDoc>(
  {
    _id: { type: Date },
    at: { type: Date, required: true },
    live: { type: Schema.Types.Mixed },
    backfill: { type: Schema.Types.Mixed },
  },
  { collection: 'sync_run_buckets', versionKey: false },
);
// Same retention as sync_runs.
bucketSchema.index({ at: 1 }, { expireAfterSeconds: 7 * 24 * 3600 });

export type SyncBucketModel = Model<BucketDoc>;

export function syncBucketModel(conn: Connection): SyncBucketModel {
  return (conn.models.SyncRunBucket as SyncBucketModel | undefined) ?? conn.model<BucketDoc>('SyncRunBucket', bucketSchema);
}

export const bucketStart = (ms: number): number => Math.floor(ms / BUCKET_MS) * BUCKET_MS;

export function durationBand(durationMs: number): number {
  const i = DURATION_BANDS_MS.findIndex((upper) => durationMs <= upper);
  return i === -1 ? DURATION_BANDS_MS.length : i;
}

type RunFields = Pick<SyncRunRecord, 'mode' | 'outcome' | 'durationMs' | 'finishedAt'> &
  Partial<Pick<SyncRunRecord, 'fallbackReason' | 'tokenExpired' | 'apiCalls' | 'fullPollCalls'>>;

/** What one run adds to its bucket. */
export function countsOf(run: RunFields): Record<BucketCounter, number> {
  return {
    incremental: run.mode === 'incremental' ? 1 : 0,
    full: run.mode === 'full' ? 1 : 0,
    failed: run.outcome !== 'ok' ? 1 : 0,
    fallbacks: run.fallbackReason != null ? 1 : 0,
    tokenExpirations: run.tokenExpired ? 1 : 0,
    apiCalls: run.apiCalls ?? 0,
    fullPollCalls: run.fullPollCalls ?? 0,
  };
}

/** Adds one recorded run to its bucket: one upsert, atomic per document, safe from any replica. */
export async function countRunInBucket(Bucket: SyncBucketModel, run: RunFields): Promise<void> {
  const start = new Date(bucketStart(run.finishedAt.getTime()));
  const inc: Record<string, number> = { [`live.bands.${durationBand(run.durationMs)}`]: 1 };
  for (const [k, v] of Object.entries(countsOf(run))) if (v !== 0) inc[`live.${k}`] = v;
  await Bucket.collection.updateOne({ _id: start }, { $inc: inc, $setOnInsert: { at: start } }, { upsert: true });
}

const emptyCounts = (): BucketCounts => ({
  incremental: 0,
  full: 0,
  failed: 0,
  fallbacks: 0,
  tokenExpirations: 0,
  apiCalls: 0,
  fullPollCalls: 0,
  bands: new Array<number>(DURATION_BANDS_MS.length + 1).fill(0),
});

/** The buckets starting in [from, to], live and backfilled counters added, keyed by start (ms). */
export async function readBuckets(Bucket: SyncBucketModel, from: Date, to: Date): Promise<Map<number, BucketCounts>> {
  // A range on _id only: the planner reads at most the 96 documents of the window.
  const docs = await Bucket.find({ _id: { $gte: from, $lte: to } }).lean();
  const out = new Map<number, BucketCounts>();
  for (const d of docs) {
    const c = emptyCounts();
    for (const part of [d.live, d.backfill]) {
      if (!part) continue;
      for (const k of BUCKET_COUNTERS) c[k] += part[k] ?? 0;
      for (const [band, n] of Object.entries(part.bands ?? {})) {
        const i = Number(band);
        if (i >= 0 && i < c.bands.length) c.bands[i]! += n;
      }
    }
    out.set(new Date(d._id).getTime(), c);
  }
  return out;
}
