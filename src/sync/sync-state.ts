import { Types } from 'mongoose';
import type { CalendarModel } from '../models/calendar.js';
import { Lease, type Held } from '../leases/lease.js';
import type { Candidate } from './claim-order.js';
import { IDLE_PRIORITY, NEVER, PRIORITY, type Priority } from './priority.js';

/**
 * Every change to a calendar's sync scheduling state goes through here, as named transitions:
 *
 *   request    a ping, the admin API or the cron asks for a sync: one atomic write that lowers
 *              `dueAt` to now and `priority` to the request's, and counts the request. Durable
 *              before the caller acknowledges anything.
 *   claim      any replica takes a due calendar whose lease is free: one atomic compare-and-set on
 *              the lease epoch, which is also the lease (`syncNotBefore` is its expiry); which calendar
 *              comes from a plain read of the most urgent due ones (`candidates`).
 *   heartbeat  the holder extends its lease (and fences each write on it).
 *   succeed    the pass is done: the requests it covered are consumed unless new ones arrived
 *              meanwhile (then the calendar stays due, at most one more pass); the next pass may
 *              not start before SYNC_MIN_INTERVAL_MS (pacing lives in `syncNotBefore`).
 *   fail       the pass failed: requests stay (retried after a back-off) or, for a calendar that
 *              needs an operator, are dropped until someone asks explicitly.
 *   release    shutdown or quota deferral: the lease is let go, requests stay.
 *   sweep      calendars whose holder died mid-pass are shown as failed (they are re-claimed anyway
 *              once the lease runs out).
 *   park       the account needs reconnecting: every calendar of it needs attention, its requests
 *              dropped (nothing is claimed, the safety net and pings pass it by); tokens and mirror kept.
 *   resume     the account was reconnected: its calendars may be requested and claimed again.
 */

export const SYNC_LEASE_FIELDS = { until: 'syncNotBefore', owner: 'syncHeldBy', epoch: 'syncEpoch' } as const;

/** What the holder learns from the calendar at the moment it claimed it. */
export interface ClaimedSync {
  calendarId: string;
  held: Held;
  accountId: string;
  googleCalendarId: string;
  incrementalEnabled: boolean | null;
  syncToken: string | null;
  syncTokenVersion: number;
  syncTokenSingleEvents: boolean | null;
  /** A full sync was asked for and not yet done. */
  pendingFullSync: boolean;
  /** The most urgent pending request's class. */
  priority: Priority;
  /** When the earliest covered request became due (freshness is measured from it). */
  dueAt: Date;
  /** Request counters at the claim: any change by the end means requests arrived during the pass. */
  requests: number;
  fullRequests: number;
  consecutiveFailures: number;
  /** The previous holder's lease ran out without a release (it crashed or stalled). */
  reclaimed: boolean;
  lastSyncedAt: Date | null;
}

type Raw = {
  _id: Types.ObjectId;
  accountId?: unknown;
  googleCalendarId?: string | null;
  incrementalEnabled?: boolean | null;
  syncToken?: string | null;
  syncTokenVersion?: number | null;
  syncTokenSingleEvents?: boolean | null;
  pendingFullSync?: boolean | null;
  priority?: number | null;
  dueAt?: Date | null;
  requests?: number | null;
  fullRequests?: number | null;
  consecutiveFailures?: number | null;
  syncHeldBy?: string | null;
  lastSyncedAt?: Date | null;
};

const CLAIM_PROJECTION = {
  accountId: 1,
  googleCalendarId: 1,
  incrementalEnabled: 1,
  syncToken: 1,
  syncTokenVersion: 1,
  syncTokenSingleEvents: 1,
  pendingFullSync: 1,
  priority: 1,
  dueAt: 1,
  requests: 1,
  fullRequests: 1,
  consecutiveFailures: 1,
  lastSyncedAt: 1,
} as const;

export interface RequestOptions {
  priority: Priority;
  full?: boolean;
  /** When the work becomes due (default now; the cron spreads its marks with jitter). */
  at?: Date;
  /**
   * An operator asked explicitly: also for a calendar that needs attention, and without waiting out
   * a failure back-off or the pacing interval.
   */
  force?: boolean;
}

export interface PassRecord {
  /** When the pass ended. */
  end: Date;
  durationMs: number;
  /** Counter increments (`counters.*`) for this pass. */
  inc: Record<string, number>;
  eventCount: number | null;
  lastError: { code: string; message: string; at: Date } | null;
}

/**
 * Retiring a calendar: no pending request, and the sync lease taken from whoever holds it (epoch
 * bumped, so a pass in flight can write nothing more: its writes are fenced on the lease).
 */
export function retiredSyncFields(now: Date): { set: Record<string, unknown>; inc: Record<string, number> } {
  return {
    set: { state: 'retired', retiredAt: now, dueAt: NEVER, priority: IDLE_PRIORITY, pendingFullSync: false, syncHeldBy: null, syncNotBefore: now },
    inc: { syncEpoch: 1 },
  };
}

/** The scheduling fields of a new calendar: a full sync requested at recovery priority. */
export function initialSyncRequest(now: Date): Record<string, unknown> {
  return { dueAt: now, priority: PRIORITY.recovery, pendingFullSync: true, requests: 1, fullRequests: 1 };
}

/**
 * Whether a request can be left unwritten because the calendar already holds one at least as urgent
 * and due no later, while no pass holds the calendar: that pending request is claimed after this
 * read, so its pass lists events after this request was made and covers whatever prompted it.
 * While a pass holds the calendar the request must be written (its counter tells the holder that
 * something arrived during the pass). One read by `_id` instead of a write on the calendar, which is
 * the costliest write of a ping (a large document with many indexes): during a ping storm on a busy
 * calendar most pings find their sync already pending.
 */
function covered(doc: { dueAt?: Date | null; priority?: number | null; syncHeldBy?: string | null }, priority: Priority, at: Date): boolean {
  return !doc.syncHeldBy && doc.dueAt instanceof Date && doc.dueAt <= at && (doc.priority ?? IDLE_PRIORITY) <= priority;
}

export class SyncStateRepository {
  readonly lease: Lease;

  constructor(private readonly Calendar: CalendarModel) {
    this.lease = new Lease(Calendar, SYNC_LEASE_FIELDS);
  }

  /**
   * Records a request. Returns when the calendar may next be claimed (its lease or pacing time) and
   * whether a sync holds it now, or null when there is no such calendar (or it needs attention and
   * `force` is not set).
   */
  async request(calendarId: string, opts: RequestOptions, now: Date): Promise<{ notBefore: Date; held: boolean } | null> {
    if (!Types.ObjectId.isValid(calendarId)) return null;
    const at = opts.at ?? now;
    const doc = await this.Calendar.findById(calendarId, { state: 1, dueAt: 1, priority: 1, syncHeldBy: 1, syncNotBefore: 1 }).lean();
    // A retired calendar (left its calendar list) never syncs, not even on an operator's request.
    if (!doc || doc.state === 'retired' || (doc.state === 'needs_attention' && !opts.force)) return null;
    const held = Boolean(doc.syncHeldBy);
    const notBefore = doc.syncNotBefore ?? new Date(0);
    if (!opts.full && !opts.force && covered(doc, opts.priority, at)) return { notBefore, held: false };
    // The write checks the state again; the lease fields read above only time this process's wake-up.
    const filter: Record<string, unknown> = { _id: calendarId, state: opts.force ? { $ne: 'retired' } : { $nin: ['needs_attention', 'retired'] } };
    const update: Record<string, unknown> = {
      $min: { dueAt: at, priority: opts.priority },
      $inc: opts.full ? { requests: 1, fullRequests: 1 } : { requests: 1 },
    };
    if (opts.full) update.$set = { pendingFullSync: true };
    const res = await this.Calendar.updateOne(filter, update);
    if (res.matchedCount !== 1) return null;
    if (opts.force && !held && notBefore > now) {
      await this.Calendar.updateOne({ _id: calendarId, syncHeldBy: null, syncNotBefore: { $gt: now } }, { $set: { syncNotBefore: now } });
      return { notBefore: now, held: false };
    }
    return { notBefore, held };
  }

  /**
   * Records one request on each of `ids` that still matches `filter` (checked in the same write, so a
   * calendar synced meanwhile is not marked again). Returns how many were marked.
   */
  async requestMany(ids: Types.ObjectId[], opts: RequestOptions & { filter: Record<string, unknown> }): Promise<number> {
    if (ids.length === 0) return 0;
    const res = await this.Calendar.updateMany(
      { ...opts.filter, _id: { $in: ids } },
      { $min: { dueAt: opts.at ?? new Date(), priority: opts.priority }, $inc: { requests: 1 } },
    );
    return res.modifiedCount;
  }

  /**
   * The most urgent calendars claimable now, in claim order (at most `limit`). A plain read: a
   * replica looks with it before it claims (a write), so polling an idle fleet costs reads only,
   * and claims go by `_id` — on planners that materialise every match of a range before the limit
   * (SecantusDB does), claiming straight from the due range would cost time in proportion to the
   * backlog on every claim, where this costs it once per batch.
   */
  async candidates(now: Date, limit: number): Promise<Candidate[]> {
    const docs = await this.Calendar.find(
      { priority: { $lt: IDLE_PRIORITY }, dueAt: { $lte: now }, syncNotBefore: { $lte: now } },
      { _id: 1, priority: 1, accountId: 1 },
    )
      .sort({ priority: 1, dueAt: 1 })
      .limit(limit)
      .lean();
    return docs.map((d) => ({ id: d._id.toHexString(), priority: d.priority ?? IDLE_PRIORITY, accountId: String(d.accountId) }));
  }

  /**
   * Claims the calendar if it is due and its lease is free, taking its sync lease: a read by `_id`,
   * then one atomic compare-and-set (src/leases/lease.ts `claimById`), so a calendar another replica
   * holds costs this one a read. The request counters and the token version are pinned: the claimed
   * state is exactly what the write landed on (a request arriving in between fails this claim, and
   * the next look claims the calendar with the new counts).
   */
  async claim(opts: { owner: string; leaseMs: number; now: Date; calendarId: string }): Promise<ClaimedSync | null> {
    if (!Types.ObjectId.isValid(opts.calendarId)) return null;
    const now = opts.now.getTime();
    const claimed = await this.lease.claimById<Raw>(new Types.ObjectId(opts.calendarId), {
      owner: opts.owner,
      leaseMs: opts.leaseMs,
      now: opts.now,
      filter: { priority: { $lt: IDLE_PRIORITY }, dueAt: { $lte: opts.now } },
      pin: ['requests', 'fullRequests', 'syncTokenVersion'],
      ready: { fields: ['priority', 'dueAt'], check: (d) => Number(d.priority ?? IDLE_PRIORITY) < IDLE_PRIORITY && d.dueAt instanceof Date && d.dueAt.getTime() <= now },
      set: { state: 'syncing', syncStartedAt: opts.now },
      projection: CLAIM_PROJECTION,
    });
    if (!claimed) return null;
    const d = claimed.doc;
    return {
      calendarId: d._id.toHexString(),
      held: claimed.held,
      accountId: String(d.accountId),
      googleCalendarId: d.googleCalendarId ?? '',
      incrementalEnabled: d.incrementalEnabled ?? null,
      syncToken: d.syncToken ?? null,
      syncTokenVersion: d.syncTokenVersion ?? 0,
      syncTokenSingleEvents: d.syncTokenSingleEvents ?? null,
      pendingFullSync: d.pendingFullSync ?? false,
      priority: (d.priority ?? IDLE_PRIORITY) as Priority,
      dueAt: d.dueAt ?? opts.now,
      requests: d.requests ?? 0,
      fullRequests: d.fullRequests ?? 0,
      consecutiveFailures: d.consecutiveFailures ?? 0,
      reclaimed: typeof d.syncHeldBy === 'string' && d.syncHeldBy.length > 0,
      lastSyncedAt: d.lastSyncedAt ?? null,
    };
  }

  heartbeat(claimed: ClaimedSync, leaseMs: number, now: Date): Promise<boolean> {
    return this.lease.renew(claimed.held, leaseMs, now);
  }

  /** Fields that fence a write on the lease: add them to the write's filter. */
  fence(claimed: ClaimedSync): Record<string, unknown> {
    return this.lease.heldFilter(claimed.held);
  }

  /**
   * The pass succeeded: stores its token (compare-and-set on the version it started from, fenced on
   * the lease) and its verdict in one write. If no request arrived since the claim, they are all
   * consumed; otherwise the calendar stays due and is claimed again once the pacing interval is
   * over. Returns when the calendar is due again (null when it is not), or 'stale' when the lease or
   * the token moved on (nothing written).
   */
  async succeed(
    claimed: ClaimedSync,
    commit: { token: string; expectedVersion: number; singleEvents: boolean; alsoSet: Record<string, unknown> },
    pass: PassRecord,
    opts: { minIntervalMs: number; wasFull: boolean },
  ): Promise<Date | null | 'stale'> {
    const notBefore = new Date(pass.end.getTime() + opts.minIntervalMs);
    const set = {
      ...commit.alsoSet,
      syncToken: commit.token.trim(),
      syncTokenSingleEvents: commit.singleEvents,
      state: 'idle',
      consecutiveFailures: 0,
      lastSyncDurationMs: pass.durationMs,
      lastError: null,
      ...(pass.eventCount === null ? {} : { eventCount: pass.eventCount }),
    };
    const common = { until: notBefore, inc: { ...pass.inc, syncTokenVersion: 1 } };
    const version = { syncTokenVersion: commit.expectedVersion };
    const consumed = { ...set, dueAt: NEVER, priority: IDLE_PRIORITY, pendingFullSync: false };
    if (await this.lease.release(claimed.held, { ...common, filter: { ...version, requests: claimed.requests }, set: consumed })) return null;
    // Requests arrived during the pass: they stay due. A full request among them keeps pendingFullSync.
    if (opts.wasFull && (await this.lease.release(claimed.held, { ...common, filter: { ...version, fullRequests: claimed.fullRequests }, set: { ...set, pendingFullSync: false } }))) {
      return notBefore;
    }
    return (await this.lease.release(claimed.held, { ...common, filter: version, set })) ? notBefore : 'stale';
  }

  /**
   * The pass failed. 'failed' keeps the requests and retries at `retryAt`; 'needs_attention' drops
   * them (retrying only burns quota until an operator acts; an explicit admin request still runs).
   */
  async fail(claimed: ClaimedSync, pass: PassRecord, opts: { status: 'failed' | 'needs_attention'; retryAt: Date }): Promise<boolean> {
    const set: Record<string, unknown> = {
      state: opts.status,
      lastSyncDurationMs: pass.durationMs,
      lastError: pass.lastError,
      ...(pass.eventCount === null ? {} : { eventCount: pass.eventCount }),
    };
    if (opts.status === 'needs_attention') Object.assign(set, { dueAt: NEVER, priority: IDLE_PRIORITY });
    return this.lease.release(claimed.held, {
      until: opts.status === 'failed' ? opts.retryAt : new Date(0),
      set,
      inc: { ...pass.inc, consecutiveFailures: 1 },
    });
  }

  /** Lets go without a verdict (shutdown, quota deferral): the requests stay, claimable from `until`. */
  release(claimed: ClaimedSync, opts: { until: Date; state?: string; inc?: Record<string, number> }): Promise<boolean> {
    return this.lease.release(claimed.held, { until: opts.until, set: { state: opts.state ?? 'idle' }, inc: opts.inc });
  }

  /**
   * Parks every calendar of the account (one write on the accountId index). A pass running now is
   * not disturbed: it meets the same refusal, or the account check, and parks itself.
   */
  async parkAccount(accountId: string, lastError: { code: string; message: string }, now: Date): Promise<number> {
    if (!Types.ObjectId.isValid(accountId)) return 0;
    const res = await this.Calendar.updateMany(
      { accountId: new Types.ObjectId(accountId) },
      { $set: { state: 'needs_attention', dueAt: NEVER, priority: IDLE_PRIORITY, lastError: { ...lastError, at: now } } },
    );
    return res.modifiedCount;
  }

  /**
   * Unparks the account's calendars: they may be requested and claimed again at once (no back-off
   * left over from before). Returns their ids; the caller records a request on each.
   */
  async resumeAccount(accountId: string, now: Date): Promise<string[]> {
    if (!Types.ObjectId.isValid(accountId)) return [];
    const filter = { accountId: new Types.ObjectId(accountId) };
    await this.Calendar.updateMany({ ...filter, state: 'needs_attention' }, { $set: { state: 'idle' } });
    await this.Calendar.updateMany({ ...filter, syncHeldBy: null, syncNotBefore: { $gt: now } }, { $set: { syncNotBefore: now } });
    return (await this.Calendar.find(filter, { _id: 1 }).lean()).map((c) => c._id.toHexString());
  }

  /**
   * Moves a free calendar's next claim to `until` (its requests untouched): what a claim deferred by
   * the quota governor would have left, without the claim. False when it is held or already later.
   */
  async postpone(calendarId: string, until: Date, now: Date): Promise<boolean> {
    if (!Types.ObjectId.isValid(calendarId)) return false;
    const res = await this.Calendar.updateOne({ _id: calendarId, syncHeldBy: null, syncNotBefore: { $lte: now } }, { $set: { syncNotBefore: until } });
    return res.modifiedCount === 1;
  }

  /** Only what a pass that lost its lease cost (the calendar's state belongs to the new holder). */
  async addCounters(calendarId: string, inc: Record<string, number>): Promise<void> {
    await this.Calendar.updateOne({ _id: calendarId }, { $inc: inc });
  }

  /**
   * Shows calendars whose holder stopped renewing its lease as failed (`lease_expired`). Their
   * requests are untouched, so whoever claims next runs the sync; this only keeps the reported
   * state honest. Bounded: at most `limit` calendars per call.
   */
  async sweep(now: Date, limit = 500): Promise<string[]> {
    const filter = { state: 'syncing' as const, syncNotBefore: { $lte: now } };
    const stuck = await this.Calendar.find(filter, { _id: 1 }).limit(limit).lean();
    if (stuck.length === 0) return [];
    const ids = stuck.map((c) => c._id);
    await this.Calendar.updateMany(
      { ...filter, _id: { $in: ids } },
      {
        $set: { state: 'failed', lastError: { code: 'lease_expired', message: 'sync holder stopped renewing its lease', at: now } },
        $inc: { 'counters.failed': 1 },
      },
    );
    return ids.map((id) => id.toHexString());
  }
}
