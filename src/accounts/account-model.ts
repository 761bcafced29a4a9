import { Schema, type Connection, type HydratedDocument } from 'mongoose';
import { DISCOVERY_POLICIES, ON_REMOVED, type DiscoveryPolicyName, type OnRemoved } from '../discovery/policy.js';
import { NEVER } from '../sync/priority.js';

export const ACCOUNT_KINDS = ['oauth', 'service_account'] as const;
export type AccountKind = (typeof ACCOUNT_KINDS)[number];

/**
 * An account holds the credentials calsync uses for its calendars. They are stored only sealed
 * (AES-256-GCM, see src/crypto/secret-box.ts): iv + tag + ciphertext, never plaintext, and the
 * sealed field is not selected by default so no listing query drags it along.
 */
export interface SealedCredentialsRecord {
  v: number;
  /** The key that sealed it (format 2); absent on format 1, sealed before keys could rotate. */
  keyId?: string | null;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

export const ACCOUNT_STATUSES = ['active', 'reauth_required'] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

export interface AccountRecord {
  kind: AccountKind;
  label: string | null;
  /** The Google user id (`sub`) of an account connected through consent: one account per Google user. */
  googleSub: string | null;
  email: string | null;
  /** reauth_required: Google refused the refresh token (invalid_grant); channels stopped, mirror kept. */
  status: AccountStatus;
  statusReason: string | null;
  statusChangedAt: Date | null;
  sealedCredentials: SealedCredentialsRecord;
  /** Calendar discovery (src/discovery/): the policy, and its scheduling state (discovery-state.ts owns those writes). */
  discovery: { policy: DiscoveryPolicyName; calendarIds: string[]; onRemoved: OnRemoved };
  /** calendarList sync token: secret like the events sync token, never selected by default. */
  calendarListSyncToken: string | null;
  /** When the earliest pending discovery request became due; NEVER when none is pending. */
  discoveryDueAt: Date;
  /** Requests so far: a pass compares it at the end to spot requests made during it. */
  discoveryRequests: number;
  /** The discovery lease (src/leases/lease.ts). */
  discoveryNotBefore: Date;
  discoveryHeldBy: string | null;
  discoveryEpoch: number;
  discoveryFailures: number;
  lastDiscoveryAt: Date | null;
  lastDiscoveryError: { code: string; message: string; at: Date } | null;
  /** When the calendarList channel next needs renewing (or opening); NEVER while discovery is off. */
  listChannelCheckAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

const sealedSchema = new Schema<SealedCredentialsRecord>(
  {
    v: { type: Number, required: true },
    keyId: { type: String, default: undefined },
    iv: { type: Buffer, required: true },
    tag: { type: Buffer, required: true },
    ciphertext: { type: Buffer, required: true },
  },
  { _id: false },
);

const accountSchema = new Schema<AccountRecord>(
  {
    kind: { type: String, enum: ACCOUNT_KINDS, required: true },
    label: { type: String, default: null },
    googleSub: { type: String, default: null },
    email: { type: String, default: null },
    status: { type: String, enum: ACCOUNT_STATUSES, default: 'active' },
    statusReason: { type: String, default: null },
    statusChangedAt: { type: Date, default: null },
    sealedCredentials: { type: sealedSchema, required: true, select: false },
    discovery: {
      type: new Schema(
        {
          policy: { type: String, enum: DISCOVERY_POLICIES, default: 'none' },
          calendarIds: { type: [String], default: [] },
          onRemoved: { type: String, enum: ON_REMOVED, default: 'keep' },
        },
        { _id: false },
      ),
      default: () => ({}),
    },
    calendarListSyncToken: { type: String, default: null, select: false },
    discoveryDueAt: { type: Date, default: () => NEVER },
    discoveryRequests: { type: Number, default: 0 },
    discoveryNotBefore: { type: Date, default: () => new Date(0) },
    discoveryHeldBy: { type: String, default: null },
    discoveryEpoch: { type: Number, default: 0 },
    discoveryFailures: { type: Number, default: 0 },
    lastDiscoveryAt: { type: Date, default: null },
    lastDiscoveryError: { type: new Schema({ code: String, message: String, at: Date }, { _id: false }), default: null },
    listChannelCheckAt: { type: Date, default: () => NEVER },
  },
  { timestamps: true, collection: 'accounts' },
);

// Same Google user = same account, enforced by the database even when two consents race.
accountSchema.index({ googleSub: 1 }, { unique: true, partialFilterExpression: { googleSub: { $type: 'string' } } });

// The accounts to reconnect (dashboard), without reading the others.
accountSchema.index({ status: 1, statusChangedAt: 1 });
// The discovery claim and the channel-renewal mark: ranges on a time.
accountSchema.index({ discoveryDueAt: 1 });
accountSchema.index({ listChannelCheckAt: 1 });

const build = (conn: Connection) => conn.model('Account', accountSchema);
export type AccountModel = ReturnType<typeof build>;
export type AccountDoc = HydratedDocument<AccountRecord>;

export function accountModel(conn: Connection): AccountModel {
  return (conn.models.Account as AccountModel | undefined) ?? build(conn);
}
