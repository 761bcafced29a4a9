import type { Model } from 'mongoose';

/**
 * One lease shape for every piece of claimed work: a calendar's sync, its channel work, a channel
 * stop, a subscription's deliveries. A document is claimable when its `until` time has passed; the
 * claim is one atomic write that sets the holder, pushes `until` out by the lease length and bumps
 * `epoch`: a findOneAndUpdate for "the most urgent claimable document", a compare-and-set on the
 * epoch for a given one (`claimById`). Because `until` is simply a time, the same field also serves
 * pacing and retry back-off (release with a future `until`), and a crashed holder's work is claimable again
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
        this.claimUpdate(opts),
        { sort: opts.sort, returnDocument: 'before', projection },
      )
      .lean<T & Record<string, unknown>>();
    if (!before) return null;
    const previous = Number(before[epoch] ?? 0);
    return { doc: before, held: { id: before._id, owner: opts.owner, epoch: previous + 1 } };
  }

  /**
   * Claims the document `id` if it matches `filter` and its lease is free or expired: one read by
   * `_id`, then (only when the read shows it claimable) one atomic compare-and-set by `_id` on the
   * epoch and holder it read, plus the `pin` fields. A claim in between bumps the epoch and a release
   * in between clears or changes the holder, so the write lands only on the lease as it was read, and
   * the pins extend that to the fields the caller relies on that others change without a claim (a
   * request counter). The returned document is then exactly the one the claim took, as `claim`'s
   * findOneAndUpdate returns it.
   *
   * Why not findOneAndUpdate here: when replicas race for the same due work, the losers mostly see
   * it held and cost a point read instead of a write. And SecantusDB (the test database) runs
   * findAndModify's write as a scan of the whole collection: a won claim cost ~86 ms at 10,000
   * calendars and ~17 ms at 1,000, against ~8 ms for this read and write at either size (7.6 and
   * 7.9 ms measured).
   */
  async claimById<T extends object>(
    id: unknown,
    opts: Omit<ClaimOptions, 'sort'> & {
      /** Further conditions the document must meet at the claim. */
      filter?: Record<string, unknown>;
      /** Fields whose values as read the write re-asserts (a missing field matches null). */
      pin?: readonly string[];
      /** The read's check beyond the lease: false when `fields` already show the document not claimable. */
      ready?: { fields: readonly string[]; check: (doc: Record<string, unknown>) => boolean };
    },
  ): Promise<{ doc: T; held: Held } | null> {
    const { until, owner, epoch } = this.fields;
    const pins = opts.pin ?? [];
    const fields = opts.projection ? [until, owner, epoch, ...pins, ...(opts.ready?.fields ?? []), ...Object.keys(opts.projection)] : [];
    const seen = await this.model
      .findOne({ _id: id }, fields.length ? Object.fromEntries(fields.map((f) => [f, 1])) : undefined)
      .lean<T & Record<string, unknown>>();
    if (!seen) return null;
    const freeAt = seen[until];
    if (freeAt instanceof Date && freeAt.getTime() > opts.now.getTime()) return null;
    if (opts.ready && !opts.ready.check(seen)) return null;
    const cas: Record<string, unknown> = { _id: id, [epoch]: seen[epoch] ?? null, [owner]: seen[owner] ?? null };
    for (const f of pins) cas[f] = seen[f] ?? null;
    const res = await this.model.updateOne(
      // `_id` first: planners that take the first indexed clause then do a point lookup.
      { ...cas, ...opts.filter, [until]: { $lte: opts.now } },
      this.claimUpdate(opts),
    );
    if (res.matchedCount !== 1) return null;
    return { doc: seen, held: { id: seen._id, owner: opts.owner, epoch: Number(seen[epoch] ?? 0) + 1 } };
  }

  /** The write that takes the lease: the holder, `until` pushed out by the lease length, `epoch` bumped. */
  private claimUpdate(opts: ClaimOptions): Record<string, unknown> {
    const { until, owner, epoch } = this.fields;
    return {
      $set: { ...opts.set, [owner]: opts.owner, [until]: new Date(opts.now.getTime() + opts.leaseMs) },
      $inc: { ...opts.inc, [epoch]: 1 },
    };
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
