import type { PipelineStage } from 'mongoose';
import { BUCKET_COUNTERS, BUCKET_MS, DURATION_BANDS_MS, readBuckets, type BucketCounts, type SyncBucketModel } from './sync-buckets.js';
import type { SyncRunModel } from './sync-run.js';

export { DURATION_BANDS_MS };

/**
 * The last day of sync runs in fixed 15-minute buckets, for the dashboard's charts. Read from the
 * bucket counters maintained as runs are recorded (sync-buckets.ts): at most 96 small documents,
 * so the cost is the same whatever the fleet size or the number of stored runs.
 */
export interface SyncHistory {
  bucketMs: number;
  /** Start of each bucket (ms epoch), oldest first; the last one holds "now". */
  bucketStarts: number[];
  incremental: number[];
  full: number[];
  failed: number[];
  fallbacks: number[];
  tokenExpirations: number[];
  apiCalls: number[];
  /** What full re-lists would have cost for the same passes (the polling baseline). */
  fullPollCalls: number[];
  /** Sync duration percentiles (ms), estimated from duration bands like Prometheus' histogram_quantile; null for an empty bucket. */
  durationP50: (number | null)[];
  durationP99: (number | null)[];
}

/** Start of the oldest of the `buckets` buckets ending with the one that holds `now`. */
export const windowStart = (now: number, buckets: number): number => (Math.floor(now / BUCKET_MS) - (buckets - 1)) * BUCKET_MS;

export async function syncHistory(Bucket: SyncBucketModel, opts: { now?: number; hours?: number } = {}): Promise<SyncHistory> {
  const buckets = Math.ceil(((opts.hours ?? 24) * 3_600_000) / BUCKET_MS);
  const now = opts.now ?? Date.now();
  const since = windowStart(now, buckets);
  const starts = Array.from({ length: buckets }, (_, i) => since + i * BUCKET_MS);
  const counts = await readBuckets(Bucket, new Date(since), new Date(starts[starts.length - 1]!));
  const series = (k: (typeof BUCKET_COUNTERS)[number]) => starts.map((s) => counts.get(s)?.[k] ?? 0);
  const bands = starts.map((s) => counts.get(s)?.bands ?? []);
  return {
    bucketMs: BUCKET_MS,
    bucketStarts: starts,
    incremental: series('incremental'),
    full: series('full'),
    failed: series('failed'),
    fallbacks: series('fallbacks'),
    tokenExpirations: series('tokenExpirations'),
    apiCalls: series('apiCalls'),
    fullPollCalls: series('fullPollCalls'),
    durationP50: bands.map((b) => quantileFromBands(b, 0.5)),
    durationP99: bands.map((b) => quantileFromBands(b, 0.99)),
  };
}

interface Row {
  _id: { b: number; band: number };
  n: number;
  incremental: number;
  full: number;
  failed: number;
  fallbacks: number;
  tokenExpirations: number;
  apiCalls: number;
  fullPollCalls: number;
}

/**
 * The same counters computed from stored runs by one aggregation: O(runs matched). Used once per
 * database by the backfill of runs recorded before the buckets existed, and by tests as the
 * reference the buckets must agree with. Keyed by bucket start (ms).
 */
export async function aggregateRunsByBucket(SyncRun: SyncRunModel, opts: { since: Date; match?: Record<string, unknown> }): Promise<Map<number, BucketCounts>> {
  const since = new Date(Math.floor(opts.since.getTime() / BUCKET_MS) * BUCKET_MS);
  const bandOf = {
    $switch: {
      branches: DURATION_BANDS_MS.map((upper, i) => ({ case: { $lte: ['$durationMs', upper] }, then: i })),
      default: DURATION_BANDS_MS.length,
    },
  };
  const count = (cond: unknown) => ({ $sum: { $cond: [cond, 1, 0] } });
  const pipeline: PipelineStage[] = [
    { $match: { finishedAt: { $gte: since }, ...opts.match } },
    {
      $group: {
        _id: { b: { $floor: { $divide: [{ $subtract: ['$finishedAt', since] }, BUCKET_MS] } }, band: bandOf },
        n: { $sum: 1 },
        incremental: count({ $eq: ['$mode', 'incremental'] }),
        full: count({ $eq: ['$mode', 'full'] }),
        failed: count({ $ne: ['$outcome', 'ok'] }),
        fallbacks: count({ $ne: [{ $ifNull: ['$fallbackReason', null] }, null] }),
        tokenExpirations: count({ $eq: ['$tokenExpired', true] }),
        apiCalls: { $sum: '$apiCalls' },
        fullPollCalls: { $sum: '$fullPollCalls' },
      },
    },
  ];
  const rows = await SyncRun.aggregate<Row>(pipeline);
  const out = new Map<number, BucketCounts>();
  for (const r of rows) {
    const start = since.getTime() + r._id.b * BUCKET_MS;
    let c = out.get(start);
    if (!c) {
      c = { incremental: 0, full: 0, failed: 0, fallbacks: 0, tokenExpirations: 0, apiCalls: 0, fullPollCalls: 0, bands: new Array<number>(DURATION_BANDS_MS.length + 1).fill(0) };
      out.set(start, c);
    }
    for (const k of BUCKET_COUNTERS) c[k] += r[k] ?? 0;
    c.bands[r._id.band]! += r.n;
  }
  return out;
}

/**
 * The q-quantile of a banded distribution, interpolating linearly inside the band it falls in (as
 * Prometheus does); a quantile in the open-ended band reads as that band's lower bound.
 */
export function quantileFromBands(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] ?? 0;
    if (n > 0 && seen + n >= rank) {
      const lower = i === 0 ? 0 : (DURATION_BANDS_MS[i - 1] ?? 0);
      const upper = DURATION_BANDS_MS[i];
      if (upper === undefined) return lower;
      return lower + ((upper - lower) * (rank - seen)) / n;
    }
    seen += n;
  }
  return DURATION_BANDS_MS[DURATION_BANDS_MS.length - 1] ?? null;
}
