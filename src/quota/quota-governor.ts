import type { Connection } from 'mongoose';
import { RateLimiterMongo, RateLimiterRes, type RateLimiterStoreAbstract } from 'rate-limiter-flexible';
import { realSleep, type Sleep } from '../sync/backoff.js';
import { PRIORITY, PRIORITY_NAMES, type Priority } from '../sync/priority.js';
import type { QuotaGate } from './quota-gate.js';
import type { QuotaMetrics, QuotaScope } from './quota-metrics.js';

export interface QuotaGovernorOptions {
  /** The database every replica shares: the budgets live there. */
  conn: Connection;
  perUserPerMinute: number;
  perProjectPerMinute: number;
  /** Google's "minute"; tests scale it down. */
  windowMs?: number;
  /** Slices per window: more slices lose less of the budget (see below) but cost more documents. */
  slices?: number;
  metrics?: QuotaMetrics;
  sleep?: Sleep;
  random?: () => number;
  /** Collection holding the slices' counters (one document per scope, key and slice, expiring). */
  collection?: string;
  /** Leave index creation to `init()` (the server awaits it at start; scripts never touch the database for it). */
  deferIndexes?: boolean;
}

/**
 * Share of a scope's budget that each class of work may use: a safety-net sweep stops at half, so
 * pings always find room.
 */
export const PRIORITY_SHARE: Record<number, number> = {
  [PRIORITY.ping]: 1,
  [PRIORITY.recovery]: 0.9,
  [PRIORITY.renewal]: 0.75,
  [PRIORITY.safetyNet]: 0.5,
};

function shareOf(priority: Priority): number {
  return PRIORITY_SHARE[priority] ?? PRIORITY_SHARE[PRIORITY.safetyNet]!;
}

/** Google's quota window, and the slices the governor cuts it into by default. */
export const QUOTA_WINDOW_MS = 60_000;
export const QUOTA_SLICES = 12;

/** Per-slice budget that keeps every sliding window of `slices` slices within `perWindow` calls. */
export function sliceBudget(perWindow: number, slices: number): number {
  // Any window of `slices` slices overlaps at most slices + 1 of them.
  return Math.max(1, Math.floor(perWindow / (slices + 1)));
}

interface Scope {
  name: QuotaScope;
  /** Typed as the store base class: its options carry `customDuration`, the Mongo typings omit it. */
  limiter: RateLimiterStoreAbstract;
  budget: number;
}

interface Charged {
  scope: Scope;
  key: string;
  res: RateLimiterRes;
}

/**
 * Google's per-user and per-project quotas, shared by every replica through MongoDB
 * (rate-limiter-flexible's Mongo store). Google counts over a sliding minute, which a fixed-window
 * counter would let through twice across a window boundary; here the minute is cut into `slices`
 * slices aligned to the clock, each allowing floor(B / (slices + 1)) calls, and any minute overlaps
 * at most slices + 1 of them, so no minute ever sees more than B. The price: steady throughput is
 * slices / (slices + 1) of the budget (12 slices: 92 %), and replicas' clocks must agree to well
 * within a slice (5 s by default).
 *
 * One counter operation per scope per call: charge the call, compare the count with the share its
 * priority may use, and refund it when over. A throttled account's slices are marked spent until the
 * throttle ends, so every calendar of that account waits, on every replica.
 */
export class QuotaGovernor implements QuotaGate {
  readonly sliceMs: number;
  private readonly account: Scope;
  private readonly project: Scope;
  private readonly metrics?: QuotaMetrics;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  /** The busiest account seen in the current slice, for the account gauge. */
  private busiest = { slice: -1, ratio: 0 };

  constructor(opts: QuotaGovernorOptions) {
    const windowMs = opts.windowMs ?? QUOTA_WINDOW_MS;
    const slices = opts.slices ?? QUOTA_SLICES;
    if (!(windowMs > 0) || !Number.isInteger(slices) || slices < 1) throw new Error('quota window and slices must be positive');
    for (const budget of [opts.perUserPerMinute, opts.perProjectPerMinute]) {
      if (!Number.isInteger(budget) || budget < 1) throw new Error('quota budgets must be positive integers');
    }
    this.sliceMs = windowMs / slices;
    const collection = opts.collection ?? 'quota_slices';
    const scope = (name: QuotaScope, perWindow: number): Scope => {
      const budget = sliceBudget(perWindow, slices);
      const limiter = new RateLimiterMongo({
        storeClient: opts.conn,
        tableName: collection,
        keyPrefix: name,
        points: budget,
        // Each call passes its slice's remaining time instead; this is only the library's default.
        duration: this.sliceMs / 1000,
        disableIndexesCreation: opts.deferIndexes === true,
      });
      return { name, limiter, budget };
    };
    this.account = scope('account', opts.perUserPerMinute);
    this.project = scope('project', opts.perProjectPerMinute);
    this.metrics = opts.metrics;
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
  }

  /** Creates the counters' indexes (unique key, expiry); both scopes share one collection. */
  async init(): Promise<void> {
    await (this.account.limiter as RateLimiterMongo).createIndexes();
  }

  async acquire(accountId: string, priority: Priority, signal?: AbortSignal): Promise<void> {
    const refused = new Set<QuotaScope>();
    for (;;) {
      signal?.throwIfAborted();
      const slice = this.sliceAt(Date.now());
      const charged = await Promise.all([this.charge(this.account, accountKey(accountId, slice), slice), this.charge(this.project, projectKey(slice), slice)]);
      this.recordUsage(charged, slice);
      const over = charged.filter((c) => c.res.consumedPoints > Math.floor(c.scope.budget * shareOf(priority)));
      // A call counts in the slice it is made in. An answer that comes back after its slice ended (a
      // database that stalled) would make the call in a later slice, on top of that slice's own
      // budget: the call is charged again, in the slice of now. The ended slice's counter is read by
      // no one any more, so its point stays (a refund there would only meet an expired counter).
      // Progress needs round trips well under a slice: 5 s by default (test/quota/quota-sync.test.ts
      // measured what 250 ms slices cost on a loaded test database).
      if (this.sliceAt(Date.now()) !== slice) continue;
      if (over.length === 0) return;

      // Not taken: give every scope its point back.
      await Promise.all(charged.map((c) => againIfUpsertLost(() => c.scope.limiter.reward(c.key, 1, { customDuration: this.remainingSec(slice) }))));
      for (const c of over) {
        if (refused.has(c.scope.name)) continue;
        refused.add(c.scope.name);
        this.metrics?.throttled(c.scope.name, PRIORITY_NAMES[priority] ?? 'unknown');
      }
      // Waiters of every replica wake at the slice's start: a little jitter spreads them.
      const wait = Math.max(...over.map((c) => c.res.msBeforeNext)) + Math.floor(this.random() * Math.min(250, this.sliceMs / 10));
      await this.sleep(wait, signal);
    }
  }

  async waitFor(accountId: string, priority: Priority): Promise<number> {
    const slice = this.sliceAt(Date.now());
    const [account, project] = await Promise.all([
      this.account.limiter.get(accountKey(accountId, slice)),
      this.project.limiter.get(projectKey(slice)),
    ]);
    let wait = 0;
    for (const [scope, res] of [[this.account, account], [this.project, project]] as const) {
      if (res && res.consumedPoints >= Math.floor(scope.budget * shareOf(priority))) wait = Math.max(wait, res.msBeforeNext);
    }
    return wait;
  }

  /**
   * Marks the account's slices spent until `ms` from now. Each slice's counter is keyed by the slice,
   * so a block may outlive its slice harmlessly, and then every replica reads the whole wait from
   * the current slice. The current slice stays blocked at least to its end, because blocking
   * replaces its count and reopening it would allow a second budget inside one slice.
   */
  async throttled(accountId: string, ms: number): Promise<void> {
    if (!(ms > 0)) return;
    const now = Date.now();
    const current = this.sliceAt(now);
    const until = now + ms;
    const blocks: Array<Promise<unknown>> = [];
    for (let slice = current; slice <= this.sliceAt(until); slice++) {
      const end = slice === current ? Math.max(until, (slice + 1) * this.sliceMs) : until;
      blocks.push(this.account.limiter.block(accountKey(accountId, slice), Math.max(1, end - now) / 1000));
    }
    await Promise.all(blocks);
  }

  private async charge(scope: Scope, key: string, slice: number): Promise<Charged> {
    try {
      return { scope, key, res: await againIfUpsertLost(() => scope.limiter.consume(key, 1, { customDuration: this.remainingSec(slice) })) };
    } catch (err) {
      // The library rejects with the counter's state when the slice's full budget is spent.
      if (err instanceof RateLimiterRes) return { scope, key, res: err };
      throw err;
    }
  }

  private recordUsage(charged: Charged[], slice: number): void {
    if (!this.metrics) return;
    for (const c of charged) {
      const ratio = Math.min(1, c.res.consumedPoints / c.scope.budget);
      if (c.scope.name === 'project') {
        this.metrics.budgetUsed('project', ratio);
        continue;
      }
      if (this.busiest.slice !== slice) this.busiest = { slice, ratio: 0 };
      if (ratio >= this.busiest.ratio) {
        this.busiest.ratio = ratio;
        this.metrics.budgetUsed('account', ratio);
      }
    }
  }

  private sliceAt(ms: number): number {
    return Math.floor(ms / this.sliceMs);
  }

  /** Seconds until the slice ends: its counter expires then (never 0, which would mean "never"). */
  private remainingSec(slice: number): number {
    return Math.max(1, (slice + 1) * this.sliceMs - Date.now()) / 1000;
  }
}

/**
 * The test database (SecantusDB) answers the loser of two concurrent upserts of a new slice counter
 * with no document instead of E11000, which the library reads as a TypeError before it changed
 * anything; a later try finds the winner's document. When a stalled database answers a crowd of
 * upserts at once, one caller can lose more than once. MongoDB never takes this path.
 */
async function againIfUpsertLost<T>(op: () => Promise<T>, tries = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!(err instanceof TypeError) || attempt >= tries) throw err;
    }
  }
}

function accountKey(accountId: string, slice: number): string {
  return `${accountId}:${slice}`;
}

function projectKey(slice: number): string {
  return String(slice);
}
