import { Types, type Connection } from 'mongoose';
import { open, seal, type SealedSecret } from '../crypto/secret-box.js';
import { accountModel, type AccountModel, type AccountStatus } from './account-model.js';
import { parseCredentials, type AccountCredentials } from './credentials.js';

export class AccountNotFoundError extends Error {
  readonly code = 'ACCOUNT_NOT_FOUND';
  constructor(accountId: string) {
    super(`account ${accountId} does not exist`);
    this.name = 'AccountNotFoundError';
  }
}

export interface AccountSummary {
  id: string;
  kind: AccountCredentials['kind'];
  label: string | null;
  email: string | null;
  status: AccountStatus;
  statusReason: string | null;
  createdAt: Date;
}

/** The ciphertext is bound to its account: a sealed blob copied to another account does not open. */
const aadFor = (accountId: string): string => `calsync:account:${accountId}`;

/**
 * Accounts and their sealed credentials. The only code that sees plaintext credentials; callers get
 * them back solely to build a Google client (see calendar-clients.ts).
 */
export class AccountService {
  private readonly Account: AccountModel;

  constructor(
    conn: Connection,
    private readonly encryptionKey: Buffer,
  ) {
    this.Account = accountModel(conn);
  }

  async create(credentials: AccountCredentials, label: string | null = null): Promise<{ id: string }> {
    const _id = new Types.ObjectId();
    const sealed = seal(this.encryptionKey, JSON.stringify(credentials), aadFor(_id.toHexString()));
    await this.Account.create({ _id, kind: credentials.kind, label, sealedCredentials: sealed });
    return { id: _id.toHexString() };
  }

  /**
   * Creates the account of a Google user who consented, or, when that user is already known (same
   * `sub`), replaces its refresh token and makes it active again: a reconnect restores the same
   * account, so its calendars and mirror carry on.
   */
  async connectGoogleUser(user: { sub: string; email: string | null; refreshToken: string }): Promise<{ id: string; created: boolean; restored: boolean }> {
    const credentials: AccountCredentials = { kind: 'oauth', refreshToken: user.refreshToken };
    for (let attempt = 0; attempt < 2; attempt++) {
      const existing = await this.Account.findOne({ googleSub: user.sub }).select({ _id: 1, status: 1 }).lean();
      if (existing) {
        const id = existing._id.toHexString();
        await this.Account.updateOne(
          { _id: existing._id },
          {
            $set: {
              kind: 'oauth', email: user.email, status: 'active', statusReason: null, statusChangedAt: new Date(),
              sealedCredentials: seal(this.encryptionKey, JSON.stringify(credentials), aadFor(id)),
            },
          },
        );
        return { id, created: false, restored: existing.status === 'reauth_required' };
      }
      const _id = new Types.ObjectId();
      try {
        await this.Account.create({
          _id, kind: 'oauth', label: user.email, googleSub: user.sub, email: user.email,
          sealedCredentials: seal(this.encryptionKey, JSON.stringify(credentials), aadFor(_id.toHexString())),
        });
        return { id: _id.toHexString(), created: true, restored: false };
      } catch (err) {
        // Another consent of the same user won the race: update that account instead.
        if ((err as { code?: unknown }).code !== 11000) throw err;
      }
    }
    throw new Error('could not record the connected account');
  }

  /** Google refused the account's refresh token. True when this call changed the status. */
  async markReauthRequired(accountId: string, reason: string): Promise<boolean> {
    if (!Types.ObjectId.isValid(accountId)) return false;
    const res = await this.Account.updateOne(
      { _id: accountId, status: { $ne: 'reauth_required' } },
      { $set: { status: 'reauth_required', statusReason: reason, statusChangedAt: new Date() } },
    );
    return res.modifiedCount === 1;
  }

  async exists(accountId: string): Promise<boolean> {
    if (!Types.ObjectId.isValid(accountId)) return false;
    return (await this.Account.exists({ _id: accountId })) !== null;
  }

  async list(): Promise<AccountSummary[]> {
    const docs = await this.Account.find().sort({ _id: 1 }).lean();
    return docs.map((d) => ({
      id: d._id.toHexString(), kind: d.kind, label: d.label ?? null, email: d.email ?? null,
      status: d.status ?? 'active', statusReason: d.statusReason ?? null, createdAt: d.createdAt,
    }));
  }

  /** Opens the account's credentials. Throws AccountNotFoundError, or SecretBoxError for a wrong key. */
  async credentials(accountId: string): Promise<AccountCredentials> {
    if (!Types.ObjectId.isValid(accountId)) throw new AccountNotFoundError(accountId);
    const doc = await this.Account.findById(accountId).select('+sealedCredentials').lean();
    if (!doc) throw new AccountNotFoundError(accountId);
    const s = doc.sealedCredentials;
    // `v` is passed through as stored: open() refuses a format version it does not know.
    const sealed: SealedSecret = { v: s.v as 1, iv: toBuffer(s.iv), tag: toBuffer(s.tag), ciphertext: toBuffer(s.ciphertext) };
    return parseCredentials(open(this.encryptionKey, sealed, aadFor(accountId)));
  }
}

/** Lean reads return BSON Binary for Buffer paths on some drivers; normalise to Buffer. */
function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  const binary = value as { buffer?: unknown } | null;
  if (binary?.buffer instanceof Uint8Array) return Buffer.from(binary.buffer);
  throw new TypeError('sealed credential field is not binary');
}
