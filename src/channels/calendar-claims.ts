import { Schema, type Connection, type Model } from 'mongoose';

/**
 * A per-calendar lease for channel work (open, renew, retire), shared by every replica and by
 * `npm run renew-channels`. Taking it is one atomic write: an insert (the unique _id lets exactly
 * one racer win) or, for a lease whose holder died, a compare-and-set on its expiry.
 */
interface ClaimRecord {
  _id: string;
  owner: string;
  expiresAt: Date;
}

const claimSchema = new Schema<ClaimRecord>(
  { _id: { type: String, required: true }, owner: { type: String, required: true }, expiresAt: { type: Date, required: true } },
  { collection: 'channel_claims', versionKey: false },
);

function claimModel(conn: Connection): Model<ClaimRecord> {
  return (conn.models.ChannelClaim as Model<ClaimRecord> | undefined) ?? conn.model<ClaimRecord>('ChannelClaim', claimSchema);
}

const isDuplicateKey = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === 11000;

export class CalendarClaims {
  private readonly Claim: Model<ClaimRecord>;

  constructor(
    conn: Connection,
    private readonly owner: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.Claim = claimModel(conn);
  }

  /** True when this owner now holds the calendar's lease. */
  async acquire(calendarId: string): Promise<boolean> {
    const now = this.now();
    const expiresAt = new Date(now + this.ttlMs);
    try {
      await this.Claim.create({ _id: calendarId, owner: this.owner, expiresAt });
      return true;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    const stolen = await this.Claim.findOneAndUpdate(
      { _id: calendarId, expiresAt: { $lt: new Date(now) } },
      { $set: { owner: this.owner, expiresAt } },
      { returnDocument: 'after' },
    ).lean();
    return stolen?.owner === this.owner;
  }

  async release(calendarId: string): Promise<void> {
    await this.Claim.deleteOne({ _id: calendarId, owner: this.owner });
  }

  /** Runs `work` under the lease; `null` when another owner holds it. */
  async withClaim<T>(calendarId: string, work: () => Promise<T>): Promise<T | null> {
    if (!(await this.acquire(calendarId))) return null;
    try {
      return await work();
    } finally {
      await this.release(calendarId).catch(() => undefined);
    }
  }
}
