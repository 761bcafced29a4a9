import { Schema, type Connection, type InferSchemaType } from 'mongoose';

/**
 * A webhook subscription to the change feed. Its delivery work lives on the document itself:
 * `position` (delivered up to), and a lease (`deliverAt` / `deliverHeldBy` / `deliverEpoch`,
 * src/leases/lease.ts) any replica claims; `deliverAt` doubles as the retry back-off time.
 */
const subscriptionSchema = new Schema(
  {
    url: { type: String, required: true },
    /** Empty: every calendar. */
    calendarIds: { type: [String], default: [] },
    /** Empty: every type. */
    types: { type: [String], default: [] },
    /** The signing secret, sealed with the current key of the key ring (src/crypto/secret-box.ts), bound to this id. */
    secret: {
      v: { type: Number, required: true },
      keyId: { type: String, default: null },
      iv: { type: Buffer, required: true },
      tag: { type: Buffer, required: true },
      ciphertext: { type: Buffer, required: true },
    },
    state: { type: String, enum: ['active', 'failing'], default: 'active' },
    position: { type: Number, default: 0 },
    deliverAt: { type: Date, default: () => new Date(0) },
    deliverHeldBy: { type: String, default: null },
    deliverEpoch: { type: Number, default: 0 },
    /** Consecutive failed attempts, and when the streak began (failing after DELIVERY_RETRY_HOURS). */
    attempts: { type: Number, default: 0 },
    failingSince: { type: Date, default: null },
    lastError: { type: new Schema({ message: String, status: Number, at: Date }, { _id: false }), default: null },
    lastDeliveredAt: { type: Date, default: null },
    delivered: { type: Number, default: 0 },
  },
  { collection: 'subscriptions', timestamps: { createdAt: true, updatedAt: false }, versionKey: false },
);

// The claim: equality on state, range and sort on the lease time.
subscriptionSchema.index({ state: 1, deliverAt: 1 });

export type SubscriptionRecord = InferSchemaType<typeof subscriptionSchema>;
const build = (conn: Connection) => conn.model('Subscription', subscriptionSchema);
export type SubscriptionModel = ReturnType<typeof build>;

export function subscriptionModel(conn: Connection): SubscriptionModel {
  return (conn.models.Subscription as SubscriptionModel | undefined) ?? build(conn);
}

export const DELIVERY_LEASE_FIELDS = { until: 'deliverAt', owner: 'deliverHeldBy', epoch: 'deliverEpoch' } as const;
