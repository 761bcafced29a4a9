import { Types, type Connection } from 'mongoose';
import { open, seal, type SealedSecret } from '../crypto/secret-box.js';
import { accountModel, type AccountModel } from './account-model.js';
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

  async exists(accountId: string): Promise<boolean> {
    if (!Types.ObjectId.isValid(accountId)) return false;
    return (await this.Account.exists({ _id: accountId })) !== null;
  }

  async list(): Promise<AccountSummary[]> {
    const docs = await this.Account.find().sort({ _id: 1 }).lean();
    return docs.map((d) => ({ id: d._id.toHexString(), kind: d.kind, label: d.label ?? null, createdAt: d.createdAt }));
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
