import type { Types } from 'mongoose';
import { Lease, type Held } from '../leases/lease.js';
import type { SealedSecret } from '../crypto/secret-box.js';
import { DELIVERY_LEASE_FIELDS, type SubscriptionModel } from './subscription-model.js';

/**
 * A subscription's delivery state, changed only through these transitions (the same Lease as syncs):
 *
 *   claim     any replica takes an active subscription whose `deliverAt` has passed.
 *   delivered the subscriber took the batch: `position` moves past it, the failure streak ends.
 *   skipped   nothing after `position` is for this subscriber: `position` moves on.
 *   idle      nothing to deliver: released, looked at again after `idleMs` (or woken by a change).
 *   failed    released with a back-off; after `retryForMs` of failures the subscription is failing
 *             and is not claimed again until an operator enables it (from the same position).
 *   release   shutdown: let go at once, nothing changed.
 */

export const FAR_FUTURE = new Date('9999-01-01T00:00:00Z');

export interface ClaimedSubscription {
  id: Types.ObjectId;
  held: Held;
  url: string;
  calendarIds: string[];
  types: string[];
  secret: SealedSecret;
  position: number;
  attempts: number;
  failingSince: Date | null;
}

type Raw = Omit<ClaimedSubscription, 'id' | 'held'> & { _id: Types.ObjectId };

export class DeliveryState {
  readonly lease: Lease;

  constructor(private readonly Subscription: SubscriptionModel) {
    this.lease = new Lease(Subscription, DELIVERY_LEASE_FIELDS);
  }

  /** A plain read first, so idle replicas poll with reads only. */
  async anyDue(now: Date): Promise<boolean> {
    return (await this.Subscription.findOne({ state: 'active', deliverAt: { $lte: now } }, { _id: 1 }).lean()) !== null;
  }

  async claim(owner: string, leaseMs: number, now: Date): Promise<ClaimedSubscription | null> {
    const claimed = await this.lease.claim<Raw>({ state: 'active' }, { owner, leaseMs, now, sort: { deliverAt: 1 } });
    if (!claimed) return null;
    const d = claimed.doc;
    return { id: d._id, held: claimed.held, url: d.url, calendarIds: d.calendarIds ?? [], types: d.types ?? [], secret: d.secret, position: d.position ?? 0, attempts: d.attempts ?? 0, failingSince: d.failingSince ?? null };
  }

  delivered(s: ClaimedSubscription, position: number, count: number, now: Date): Promise<boolean> {
    return this.lease.release(s.held, { set: { position, attempts: 0, failingSince: null, lastError: null, lastDeliveredAt: now }, inc: { delivered: count } });
  }

  skipped(s: ClaimedSubscription, position: number): Promise<boolean> {
    return this.lease.release(s.held, { set: { position } });
  }

  rest(s: ClaimedSubscription, until: Date): Promise<boolean> {
    return this.lease.release(s.held, { until });
  }

  idle(s: ClaimedSubscription, until: Date): Promise<boolean> {
    return this.lease.release(s.held, { until });
  }

  async failed(s: ClaimedSubscription, error: { message: string; status: number | null }, opts: { now: Date; retryAt: Date; retryForMs: number }): Promise<'retrying' | 'failing'> {
    const since = s.failingSince ?? opts.now;
    const failing = opts.now.getTime() - since.getTime() >= opts.retryForMs;
    await this.lease.release(s.held, {
      until: failing ? FAR_FUTURE : opts.retryAt,
      set: { failingSince: since, lastError: { ...error, at: opts.now }, ...(failing ? { state: 'failing' } : {}) },
      inc: { attempts: 1 },
    });
    return failing ? 'failing' : 'retrying';
  }

  release(s: ClaimedSubscription): Promise<boolean> {
    return this.lease.release(s.held);
  }

  /** Wakes idle subscriptions (not held, not backing off) when changes were appended. */
  async nudge(now: Date): Promise<void> {
    await this.Subscription.updateMany({ state: 'active', deliverAt: { $gt: now }, deliverHeldBy: null, attempts: 0 }, { $set: { deliverAt: now } });
  }
}
