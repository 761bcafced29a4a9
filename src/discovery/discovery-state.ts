import { Types } from 'mongoose';
import type { AccountModel } from '../accounts/account-model.js';
import { Lease, type Held } from '../leases/lease.js';
import { backoffDelay } from '../sync/backoff.js';
import { NEVER } from '../sync/priority.js';
import { DISCOVERY_POLICIES, policyOf, type DiscoveryPolicy } from './policy.js';

/**
 * Every change to an account's discovery scheduling goes through here, the way sync-state.ts does it
 * for calendars:
 *
 *   request   a connect, a calendarList ping or the cron asks for a pass: one atomic write that
 *             lowers `discoveryDueAt` and counts the request; durable before anything is acknowledged.
 *   claim     any replica takes a due account whose discovery lease is free (one findOneAndUpdate,
 *             which is also the lease; `discoveryNotBefore` is its expiry, and the retry back-off).
 *   succeed   the pass is done: its calendarList token stored (fenced on the lease) and the requests
 *             it covered consumed, unless new ones arrived meanwhile (then one more pass runs).
 *   fail      the requests stay; the account is claimable again after a back-off.
 */
export const DISCOVERY_LEASE_FIELDS = { until: 'discoveryNotBefore', owner: 'discoveryHeldBy', epoch: 'discoveryEpoch' } as const;

/** Retries after a failed pass: 30 s doubling to 30 min, jittered. */
const FAILURE_BACKOFF = { maxRetries: Infinity, baseMs: 30_000, maxMs: 30 * 60_000 };

/** Policies that discover something (the cron's safety net marks these accounts only). */
const DISCOVERING = DISCOVERY_POLICIES.filter((p) => p !== 'none');

export interface ClaimedDiscovery {
  accountId: string;
  held: Held;
  policy: DiscoveryPolicy;
  listSyncToken: string | null;
  requests: number;
  failures: number;
  /** The previous holder's lease ran out without a release. */
  reclaimed: boolean;
}

type Raw = {
  _id: Types.ObjectId;
  discovery?: unknown;
  calendarListSyncToken?: string | null;
  discoveryRequests?: number | null;
  discoveryFailures?: number | null;
  discoveryHeldBy?: string | null;
};

export class DiscoveryState {
  readonly lease: Lease;

  constructor(private readonly Account: AccountModel) {
    this.lease = new Lease(Account, DISCOVERY_LEASE_FIELDS);
  }

  /** Records a request for an active account. False: no such account, or it needs reconnecting. */
  async request(accountId: string, at: Date): Promise<boolean> {
    if (!Types.ObjectId.isValid(accountId)) return false;
    const res = await this.Account.updateOne(
      { _id: accountId, status: { $ne: 'reauth_required' } },
      { $min: { discoveryDueAt: at }, $inc: { discoveryRequests: 1 } },
    );
    return res.matchedCount === 1;
  }

  /**
   * The safety net: one request on every active account that discovers something and has none
   * pending, due at `at`. One indexed update, no read of the accounts; several replicas doing it at
   * once only add requests that the next pass consumes together.
   */
  async requestAll(at: Date): Promise<number> {
    const res = await this.Account.updateMany(
      { discoveryDueAt: NEVER, status: { $ne: 'reauth_required' }, 'discovery.policy': { $in: DISCOVERING } },
      { $min: { discoveryDueAt: at }, $inc: { discoveryRequests: 1 } },
    );
    return res.modifiedCount;
  }

  /** Accounts whose calendarList channel is due for renewal get a pass (the pass renews it). */
  async requestChannelRenewals(now: Date): Promise<number> {
    const res = await this.Account.updateMany(
      { listChannelCheckAt: { $lte: now }, discoveryDueAt: { $gt: now }, status: { $ne: 'reauth_required' } },
      { $min: { discoveryDueAt: now }, $inc: { discoveryRequests: 1 } },
    );
    return res.modifiedCount;
  }

  /** Claims the account due longest (or the given one, if due) and takes its discovery lease. */
  async claim(opts: { owner: string; leaseMs: number; now: Date; accountId?: string }): Promise<ClaimedDiscovery | null> {
    const filter: Record<string, unknown> = { discoveryDueAt: { $lte: opts.now }, status: { $ne: 'reauth_required' } };
    if (opts.accountId !== undefined) {
      if (!Types.ObjectId.isValid(opts.accountId)) return null;
      filter._id = new Types.ObjectId(opts.accountId);
    }
    const claimed = await this.lease.claim<Raw>(filter, {
      owner: opts.owner,
      leaseMs: opts.leaseMs,
      now: opts.now,
      sort: opts.accountId === undefined ? { discoveryDueAt: 1 } : undefined,
      projection: { discovery: 1, calendarListSyncToken: 1, discoveryRequests: 1, discoveryFailures: 1 },
    });
    if (!claimed) return null;
    const d = claimed.doc;
    return {
      accountId: d._id.toHexString(),
      held: claimed.held,
      policy: policyOf(d.discovery as Parameters<typeof policyOf>[0]),
      listSyncToken: d.calendarListSyncToken ?? null,
      requests: d.discoveryRequests ?? 0,
      failures: d.discoveryFailures ?? 0,
      reclaimed: typeof d.discoveryHeldBy === 'string' && d.discoveryHeldBy.length > 0,
    };
  }

  heartbeat(claimed: ClaimedDiscovery, leaseMs: number, now: Date): Promise<boolean> {
    return this.lease.renew(claimed.held, leaseMs, now);
  }

  /**
   * The pass succeeded: stores the list token (null: none, e.g. discovery off) and when the list
   * channel next needs work, fenced on the lease. Requests consumed unless new ones arrived.
   * Returns 'consumed', 'due' (another pass is wanted) or 'stale' (the lease moved on; nothing written).
   */
  async succeed(claimed: ClaimedDiscovery, r: { token: string | null; listChannelCheckAt: Date; now: Date }): Promise<'consumed' | 'due' | 'stale'> {
    const set = {
      calendarListSyncToken: r.token,
      listChannelCheckAt: r.listChannelCheckAt,
      discoveryFailures: 0,
      lastDiscoveryAt: r.now,
      lastDiscoveryError: null,
    };
    if (await this.lease.release(claimed.held, { filter: { discoveryRequests: claimed.requests }, set: { ...set, discoveryDueAt: NEVER } })) return 'consumed';
    return (await this.lease.release(claimed.held, { set })) ? 'due' : 'stale';
  }

  /** The pass failed: requests kept, retried after a back-off growing with each failure in a row. */
  fail(claimed: ClaimedDiscovery, error: { code: string; message: string }, now: Date, random: () => number = Math.random): Promise<boolean> {
    const delay = backoffDelay(claimed.failures, FAILURE_BACKOFF, random);
    return this.lease.release(claimed.held, {
      until: new Date(now.getTime() + Math.max(1_000, delay)),
      set: { lastDiscoveryError: { ...error, at: now } },
      inc: { discoveryFailures: 1 },
    });
  }

  /** Lets go without a verdict (shutdown): the requests stay, claimable at once. */
  release(claimed: ClaimedDiscovery): Promise<boolean> {
    return this.lease.release(claimed.held);
  }
}
