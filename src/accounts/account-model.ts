import { Schema, type Connection, type HydratedDocument } from 'mongoose';

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
  },
  { timestamps: true, collection: 'accounts' },
);

// Same Google user = same account, enforced by the database even when two consents race.
accountSchema.index({ googleSub: 1 }, { unique: true, partialFilterExpression: { googleSub: { $type: 'string' } } });

// The accounts to reconnect (dashboard), without reading the others.
accountSchema.index({ status: 1, statusChangedAt: 1 });

const build = (conn: Connection) => conn.model('Account', accountSchema);
export type AccountModel = ReturnType<typeof build>;
export type AccountDoc = HydratedDocument<AccountRecord>;

export function accountModel(conn: Connection): AccountModel {
  return (conn.models.Account as AccountModel | undefined) ?? build(conn);
}
