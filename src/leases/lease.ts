import type { Model } from 'mongoose';

/**
 * One lease shape for every piece of claimed work: a calendar's sync, its channel work, a channel
 * stop, a subscription's deliveries. A document is claimable when its `until` time has passed; the
 * claim is one atomic findOneAndUpdate that sets the holder, pushes `until` out by the lease
 * length and bumps `epoch`. Because `until` is simply a time, the same field also serves pacing and
 * retry back-off (release with a future `until`), and a crashed holder's work is claimable again
 * by anyone once its lease runs out: no sweep is needed to recover it.
 *
 * `epoch` is the fencing token: renewals and releases match (holder, epoch), so a holder that
 * stalled past its lease, and whose work was claimed by someone else, can neither extend nor
 * release the new holder's lease, and writes it fences on the epoch are refused.
 */

/** Field names of one lease on a document (top-level paths, so claim filters stay simple). */
export interface LeaseFields {
  /** Date: claimable when ≤ now. Lease expiry while held; pacing / back-off time while free. */
  until: string;
  /** String | null: the holder while held. */
  owner: string;
  /** Number: bumped by every claim. */
  epoch: string;
}

/** What a holder knows about the lease it took. */
export interface Held {
  id: unknown;
  owner: string;
  epoch: number;
}

export interface ClaimOptions {
  owner: string;
  leaseMs: number;
  now: Date;
  /** Which claimable document first (an index should serve filter + sort). */
  sort?: Record<string, 1 | -1>;
  /** Other fields set by the claim, in the same atomic write. */
  set?: Record<string, unknown>;
  inc?: Record<string, number>;
  /** Fields of the document as it was just before the claim (the lease fields are always added). */
  projection?: Record<string, 0 | 1>;
}

export interface ReleaseOptions {
  /** When the work may be claimed again (default: at once). */
  until?: Date;
  /** Extra conditions: the release applies only if they hold (e.g. no new request arrived). */
  filter?: Record<string, unknown>;
  set?: Record<string, unknown>;
  inc?: Record<string, number>;
}

// Mongoose's generic query types add nothing here: filters and updates are built from field names.
type AnyModel = Model<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class Lease {
  constructor(
    private readonly model: AnyModel,
    private readonly fields: LeaseFields,
  ) {}

  /**
   * Claims one document matching `filter` whose lease is free or expired. Returns the document as
   * it was before the claim, and the lease now held; null when nothing is claimable.
   */
  async claim<T extends object>(filter: Record<string, unknown>, opts: ClaimOptions): Promise<{ doc: T; held: Held } | null> {
    const { until, owner, epoch } = this.fields;
    const projection = opts.projection ? { ...opts.projection, [epoch]: 1 as const, [owner]: 1 as const } : undefined;
    const before = await this.model
      .findOneAndUpdate(
        { ...filter, [until]: { $lte: opts.now } },
        {
          $set: { ...opts.set, [owner]: opts.owner, [until]: new Date(opts.now.getTime() + opts.leaseMs) },
          $inc: { ...opts.inc, [epoch]: 1 },
        },
        { sort: opts.sort, returnDocument: 'before', projection },
      )
      .lean<T & Record<string, unknown>>();
    if (!before) return null;
    const previous = Number(before[epoch] ?? 0);
    return { doc: before, held: { id: before._id, owner: opts.owner, epoch: previous + 1 } };
  }

  /** Extends the lease (heartbeat, and the fence before a write). False: it is no longer ours. */
  async renew(held: Held, leaseMs: number, now: Date): Promise<boolean> {
    const res = await this.model.updateOne(this.heldFilter(held), { $set: { [this.fields.until]: new Date(now.getTime() + leaseMs) } });
    return res.matchedCount === 1;
  }

  /** Lets go of the lease (if still ours and `filter` holds). False when nothing matched. */
  async release(held: Held, opts: ReleaseOptions = {}): Promise<boolean> {
    const update: Record<string, unknown> = {
      $set: { ...opts.set, [this.fields.owner]: null, [this.fields.until]: opts.until ?? new Date(0) },
    };
    if (opts.inc) update.$inc = opts.inc;
    const res = await this.model.updateOne({ ...this.heldFilter(held), ...opts.filter }, update);
    return res.matchedCount === 1;
  }

  /** The filter that matches the document only while `held` is still its lease. */
  heldFilter(held: Held): Record<string, unknown> {
    return { _id: held.id, [this.fields.owner]: held.owner, [this.fields.epoch]: held.epoch };
  }
}

/** Runs `work` under a lease on one document; null when someone else holds it. Released afterwards. */
export async function withLease<T>(
  lease: Lease,
  id: unknown,
  opts: Omit<ClaimOptions, 'sort'> & { filter?: Record<string, unknown> },
  work: (held: Held) => Promise<T>,
): Promise<T | null> {
  const claimed = await lease.claim({ ...opts.filter, _id: id }, opts);
  if (!claimed) return null;
  try {
    return await work(claimed.held);
  } finally {
    await lease.release(claimed.held).catch(() => undefined);
  }
}
