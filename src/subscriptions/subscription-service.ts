import { randomBytes } from 'node:crypto';
import { Types, type Connection } from 'mongoose';
import type { KeyRing } from '../crypto/key-ring.js';
import { open, seal, type SealedSecret } from '../crypto/secret-box.js';
import { FeedPositions } from '../changes/positions.js';
import { checkSubscriberHost, checkSubscriberUrl, type AddressPolicy } from './subscriber-address.js';
import { subscriptionModel, type SubscriptionModel } from './subscription-model.js';

export const CHANGE_TYPES = ['created', 'updated', 'deleted'] as const;

export interface NewSubscription {
  url: string;
  calendarIds?: string[];
  types?: Array<(typeof CHANGE_TYPES)[number]>;
}

/** What the admin API shows: delivery state, never the secret. */
export interface SubscriptionView {
  id: string;
  url: string;
  calendarIds: string[];
  types: string[];
  state: 'active' | 'failing';
  attempts: number;
  failingSince: string | null;
  nextAttemptAt: string | null;
  lastDeliveredAt: string | null;
  lastError: { message: string; status: number | null; at: string } | null;
  delivered: number;
  createdAt: string;
}

const iso = (d: Date | null | undefined): string | null => (d ? new Date(d).toISOString() : null);

/** Standard Webhooks secrets: `whsec_` + base64 of 24 random bytes. */
const newSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

export class SubscriptionService {
  readonly Subscription: SubscriptionModel;
  private readonly positions: FeedPositions;

  constructor(
    conn: Connection,
    private readonly opts: { keys: KeyRing; policy: AddressPolicy; now?: () => Date },
  ) {
    this.Subscription = subscriptionModel(conn);
    this.positions = new FeedPositions(conn);
  }

  /** Creates a subscription that receives changes from now on; the secret is returned this once. */
  async create(input: NewSubscription): Promise<{ id: string; secret: string }> {
    const url = checkSubscriberUrl(input.url, this.opts.policy);
    await checkSubscriberHost(url, this.opts.policy);
    const now = this.opts.now?.() ?? new Date();
    const _id = new Types.ObjectId();
    const secret = newSecret();
    await this.Subscription.create({
      _id,
      url: url.toString(),
      calendarIds: [...new Set(input.calendarIds ?? [])],
      types: [...new Set(input.types ?? [])],
      secret: seal(this.opts.keys.current, secret, _id.toHexString()),
      position: await this.positions.visibleUpTo(now),
      deliverAt: now,
    });
    return { id: _id.toHexString(), secret };
  }

  async list(): Promise<SubscriptionView[]> {
    const docs = await this.Subscription.find({}, { secret: 0 }).sort({ _id: 1 }).lean();
    return docs.map((d) => ({
      id: d._id.toHexString(),
      url: d.url,
      calendarIds: d.calendarIds,
      types: d.types,
      state: d.state as SubscriptionView['state'],
      attempts: d.attempts,
      failingSince: iso(d.failingSince),
      nextAttemptAt: d.state === 'active' && d.attempts > 0 ? iso(d.deliverAt) : null,
      lastDeliveredAt: iso(d.lastDeliveredAt),
      lastError: d.lastError ? { message: d.lastError.message ?? '', status: d.lastError.status ?? null, at: iso(d.lastError.at) ?? '' } : null,
      delivered: d.delivered,
      createdAt: iso((d as { createdAt?: Date }).createdAt) ?? '',
    }));
  }

  async remove(id: string): Promise<boolean> {
    if (!Types.ObjectId.isValid(id)) return false;
    return (await this.Subscription.deleteOne({ _id: id })).deletedCount === 1;
  }

  /** A failing (or backing-off) subscription is retried at once and resumes from where it stopped. */
  async enable(id: string): Promise<boolean> {
    if (!Types.ObjectId.isValid(id)) return false;
    const now = this.opts.now?.() ?? new Date();
    const res = await this.Subscription.updateOne({ _id: id }, { $set: { state: 'active', attempts: 0, failingSince: null } });
    // Only a subscription nobody holds: a held lease's time is its expiry, not a back-off.
    await this.Subscription.updateOne({ _id: id, deliverHeldBy: null }, { $min: { deliverAt: now } });
    return res.matchedCount === 1;
  }

  async counts(): Promise<{ active: number; failing: number }> {
    const [active, failing] = await Promise.all([this.Subscription.countDocuments({ state: 'active' }), this.Subscription.countDocuments({ state: 'failing' })]);
    return { active, failing };
  }

  /** The plaintext secret, for signing only (never logged, never returned by the API). */
  openSecret(id: Types.ObjectId, sealed: SealedSecret): string {
    const parts = { iv: toBuffer(sealed.iv), tag: toBuffer(sealed.tag), ciphertext: toBuffer(sealed.ciphertext) };
    const s: SealedSecret = sealed.v === 2 ? { v: 2, keyId: String(sealed.keyId), ...parts } : { v: 1, ...parts };
    return open(this.opts.keys, s, id.toHexString());
  }
}

/** Lean reads return BSON Binary for Buffer paths; the secret box wants Buffers. */
function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  const binary = value as { buffer?: unknown };
  if (binary?.buffer instanceof Uint8Array) return Buffer.from(binary.buffer);
  return Buffer.alloc(0);
}
