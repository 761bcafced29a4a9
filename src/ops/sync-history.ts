import type { SyncRunModel } from './sync-run.js';

/**
 * The last day of stored sync runs in fixed time buckets, for the dashboard's charts. MongoDB does
 * the counting (one row per bucket and duration band), so the cost is the same whatever the number
 * of runs; nothing here holds individual runs.
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

/** Upper bounds (ms) of the duration bands; the last band is open-ended. */
export const DURATION_BANDS_MS = [100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000] as const;

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

export async function syncHistory(
  SyncRun: SyncRunModel,
  opts: { now?: number; hours?: number; bucketMinutes?: number } = {},
): Promise<SyncHistory> {
  const bucketMs = (opts.bucketMinutes ?? 15) * 60_000;
  const buckets = Math.ceil(((opts.hours ?? 24) * 3_600_000) / bucketMs);
  const now = opts.now ?? Date.now();
  const since = new Date((Math.floor(now / bucketMs) - (buckets - 1)) * bucketMs);
  const bandOf = {
    $switch: {
      branches: DURATION_BANDS_MS.map((upper, i) => ({ case: { $lte: ['$durationMs', upper] }, then: i })),
      default: DURATION_BANDS_MS.length,
    },
  };
  const count = (cond: unknown) => ({ $sum: { $cond: [cond, 1, 0] } });
  const rows = await SyncRun.aggregate<Row>([
    { $match: { finishedAt: { $gte: since } } },
    {
      $group: {
        _id: { b: { $floor: { $divide: [{ $subtract: ['$finishedAt', since] }, bucketMs] } }, band: bandOf },
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
  ]);

  const zeros = () => new Array<number>(buckets).fill(0);
  const h: SyncHistory = {
    bucketMs,
    bucketStarts: Array.from({ length: buckets }, (_, i) => since.getTime() + i * bucketMs),
    incremental: zeros(),
    full: zeros(),
    failed: zeros(),
    fallbacks: zeros(),
    tokenExpirations: zeros(),
    apiCalls: zeros(),
    fullPollCalls: zeros(),
    durationP50: [],
    durationP99: [],
  };
  const bands = Array.from({ length: buckets }, () => new Array<number>(DURATION_BANDS_MS.length + 1).fill(0));
  for (const r of rows) {
    const b = r._id.b;
    if (b < 0 || b >= buckets) continue; // finished "in the future" by a skewed clock
    for (const k of ['incremental', 'full', 'failed', 'fallbacks', 'tokenExpirations', 'apiCalls', 'fullPollCalls'] as const) h[k][b]! += r[k] ?? 0;
    bands[b]![r._id.band]! += r.n;
  }
  h.durationP50 = bands.map((counts) => quantileFromBands(counts, 0.5));
  h.durationP99 = bands.map((counts) => quantileFromBands(counts, 0.99));
  return h;
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
