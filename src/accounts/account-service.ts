import { Types, type Connection } from 'mongoose';
import { KeyRing } from '../crypto/key-ring.js';
import type { SealedSecret } from '../crypto/secret-box.js';
import { accountModel, ACCOUNT_STATUSES, type AccountModel, type AccountStatus, type SealedCredentialsRecord } from './account-model.js';
import { openCredentials, sealCredentials, type AccountCredentials } from './credentials.js';
import { CONSENT_DEFAULT, policyOf, type DiscoveryPolicy } from '../discovery/policy.js';

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
  statusChangedAt: Date | null;
  /** Calendar discovery: the policy and how the last pass went (never the calendarList token). */
  discovery: DiscoveryPolicy & { lastDiscoveryAt: Date | null; lastError: { code: string; message: string; at: Date } | null };
  createdAt: Date;
}

/** What a client cache needs to know before it hands out a client: may it call Google, with which credentials. */
export interface AccountAccessState {
  status: AccountStatus;
  /** Changes whenever the account document changes (new credentials, status): a cache key. */
  version: number;
  statusReason: string | null;
}

export class AccountReauthRequiredError extends Error {
  readonly code = 'ACCOUNT_REAUTH_REQUIRED';
  constructor(
    readonly accountId: string,
    readonly reason: string | null,
  ) {
    super(`account ${accountId} needs reconnecting (Google refused its refresh token)`);
    this.name = 'AccountReauthRequiredError';
  }
}

/** Label of format-1 credentials in key-usage counts: sealed before key ids existed. */
export const LEGACY_KEY_LABEL = 'legacy';

export interface KeyRotationReport {
  /** Accounts whose credentials were not sealed with the current key before the pass. */
  examined: number;
  resealed: number;
  /** Changed by someone else between read and write; left as they are (the next run picks them up). */
  changedMeanwhile: number;
  /** Could not be opened with any listed key (ids only, never values). */
  failed: { accountId: string; reason: string }[];
  currentKeyId: string;
  /** After the pass: how many accounts each key id seals (LEGACY_KEY_LABEL for format 1). */
  usage: Record<string, number>;
}

/**
 * Accounts and their sealed credentials. The only code that sees plaintext credentials; callers get
 * them back solely to build a Google client (see calendar-clients.ts).
 */
export class AccountService {
  private readonly Account: AccountModel;
  private readonly keys: KeyRing;

  /** `keys`: the key ring (current key first), or a single key. */
  constructor(conn: Connection, keys: KeyRing | Buffer) {
    this.Account = accountModel(conn);
    this.keys = keys instanceof KeyRing ? keys : new KeyRing([keys]);
  }

  async create(credentials: AccountCredentials, label: string | null = null): Promise<{ id: string }> {
    const _id = new Types.ObjectId();
    const sealed = sealCredentials(this.keys, _id.toHexString(), credentials);
    await this.Account.create({ _id, kind: credentials.kind, label, sealedCredentials: sealed });
    return { id: _id.toHexString() };
  }

  /**
   * Creates the account of a Google user who consented, or, when that user is already known (same
   * `sub`), replaces its refresh token and makes it active again: a reconnect restores the same
   * account, so its calendars and mirror carry on.
   */
  async connectGoogleUser(user: {
    sub: string;
    email: string | null;
    refreshToken: string;
    /** The discovery policy the connect link asked for: set on a new account (default `all`) and on a reconnect. */
    discovery?: DiscoveryPolicy;
  }): Promise<{ id: string; created: boolean; restored: boolean }> {
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
              sealedCredentials: sealCredentials(this.keys, id, credentials),
              // A policy change re-reads the whole list (the token only covers changes under the old one).
              ...(user.discovery ? { discovery: user.discovery, calendarListSyncToken: null } : {}),
            },
          },
        );
        return { id, created: false, restored: existing.status === 'reauth_required' };
      }
      const _id = new Types.ObjectId();
      try {
        await this.Account.create({
          _id, kind: 'oauth', label: user.email, googleSub: user.sub, email: user.email,
          discovery: user.discovery ?? CONSENT_DEFAULT,
          sealedCredentials: sealCredentials(this.keys, _id.toHexString(), credentials),
        });
        return { id: _id.toHexString(), created: true, restored: false };
      } catch (err) {
        // Another consent of the same user won the race: update that account instead.
        if ((err as { code?: unknown }).code !== 11000) throw err;
      }
    }
    throw new Error('could not record the connected account');
  }

  /**
   * Google refused the account's refresh token. True when this call changed the status (one writer
   * wins however many calendars meet the refusal at once). `unchangedSince`: when the refused
   * credentials were picked up; a reconnect after that moment (statusChangedAt later) wins, so a
   * late failure with the old token never undoes it.
   */
  async markReauthRequired(accountId: string, reason: string, opts: { unchangedSince?: Date } = {}): Promise<boolean> {
    if (!Types.ObjectId.isValid(accountId)) return false;
    const filter: Record<string, unknown> = { _id: accountId, status: { $ne: 'reauth_required' } };
    if (opts.unchangedSince) filter.$or = [{ statusChangedAt: null }, { statusChangedAt: { $lte: opts.unchangedSince } }];
    const res = await this.Account.updateOne(filter, { $set: { status: 'reauth_required', statusReason: reason, statusChangedAt: new Date() } });
    return res.modifiedCount === 1;
  }

  /** Status and cache version of one account (one read by _id); null when there is no such account. */
  async accessState(accountId: string): Promise<AccountAccessState | null> {
    if (!Types.ObjectId.isValid(accountId)) return null;
    const doc = await this.Account.findById(accountId).select({ status: 1, statusReason: 1, updatedAt: 1 }).lean();
    if (!doc) return null;
    return { status: doc.status ?? 'active', version: doc.updatedAt?.getTime() ?? 0, statusReason: doc.statusReason ?? null };
  }

  /** Accounts by status (every status listed, zero included): the gauge and the alerts. */
  async countByStatus(): Promise<Record<AccountStatus, number>> {
    const rows = await this.Account.aggregate<{ _id: string | null; n: number }>([{ $group: { _id: '$status', n: { $sum: 1 } } }]);
    const counts = Object.fromEntries(ACCOUNT_STATUSES.map((s) => [s, 0])) as Record<AccountStatus, number>;
    for (const r of rows) {
      const status = (r._id ?? 'active') as AccountStatus;
      if (status in counts) counts[status] += r.n;
    }
    return counts;
  }

  /** The accounts a person must reconnect, longest waiting first (at most `limit`). */
  async needingReconnection(limit: number): Promise<AccountSummary[]> {
    const docs = await this.Account.find({ status: 'reauth_required' }).sort({ statusChangedAt: 1, _id: 1 }).limit(limit).lean();
    return docs.map(summaryOf);
  }

  async exists(accountId: string): Promise<boolean> {
    if (!Types.ObjectId.isValid(accountId)) return false;
    return (await this.Account.exists({ _id: accountId })) !== null;
  }

  async list(): Promise<AccountSummary[]> {
    const docs = await this.Account.find().sort({ _id: 1 }).lean();
    return docs.map(summaryOf);
  }

  /** One account's summary (never its credentials or tokens); undefined when there is none. */
  async summary(accountId: string): Promise<AccountSummary | undefined> {
    if (!Types.ObjectId.isValid(accountId)) return undefined;
    const doc = await this.Account.findById(accountId).lean();
    return doc ? summaryOf(doc) : undefined;
  }

  /**
   * Sets the account's discovery policy. The calendarList token is dropped in the same write, so
   * the next pass reads the whole list and judges every entry by the new policy. False: no such account.
   */
  async setDiscovery(accountId: string, discovery: DiscoveryPolicy): Promise<boolean> {
    if (!Types.ObjectId.isValid(accountId)) return false;
    const res = await this.Account.updateOne({ _id: accountId }, { $set: { discovery, calendarListSyncToken: null } });
    return res.matchedCount === 1;
  }

  /** Opens the account's credentials. Throws AccountNotFoundError, or SecretBoxError for a wrong key. */
  async credentials(accountId: string): Promise<AccountCredentials> {
    if (!Types.ObjectId.isValid(accountId)) throw new AccountNotFoundError(accountId);
    const doc = await this.Account.findById(accountId).select('+sealedCredentials').lean();
    if (!doc) throw new AccountNotFoundError(accountId);
    return openCredentials(this.keys, accountId, toSealed(doc.sealedCredentials));
  }

  /**
   * Re-seals, with the current key, every account sealed with another key or in the old format.
   * Each write is a compare-and-set on the old IV, so a credential replaced meanwhile is never
   * overwritten with stale plaintext. Safe to run next to servers and to run again.
   */
  async rotateKeys(): Promise<KeyRotationReport> {
    const current = this.keys.current.id;
    const report: KeyRotationReport = { examined: 0, resealed: 0, changedMeanwhile: 0, failed: [], currentKeyId: current, usage: {} };
    const stale = this.Account.find({ 'sealedCredentials.keyId': { $ne: current } })
      .select('+sealedCredentials')
      .sort({ _id: 1 })
      .lean()
      .cursor();
    for await (const doc of stale) {
      report.examined++;
      const id = doc._id.toHexString();
      const old = doc.sealedCredentials;
      let resealed: SealedSecret;
      try {
        resealed = sealCredentials(this.keys, id, openCredentials(this.keys, id, toSealed(old)));
      } catch (err) {
        report.failed.push({ accountId: id, reason: err instanceof Error ? err.message : 'unreadable' });
        continue;
      }
      const res = await this.Account.updateOne(
        { _id: doc._id, 'sealedCredentials.iv': toBuffer(old.iv) },
        { $set: { sealedCredentials: resealed } },
      );
      if (res.modifiedCount === 1) report.resealed++;
      else report.changedMeanwhile++;
    }
    report.usage = await this.keyUsage();
    return report;
  }

  /** How many accounts each key id seals; format-1 credentials count under LEGACY_KEY_LABEL. */
  async keyUsage(): Promise<Record<string, number>> {
    const rows = await this.Account.aggregate<{ _id: string | null; n: number }>([
      { $group: { _id: { $ifNull: ['$sealedCredentials.keyId', null] }, n: { $sum: 1 } } },
    ]);
    const usage: Record<string, number> = {};
    for (const r of rows) usage[r._id ?? LEGACY_KEY_LABEL] = (usage[r._id ?? LEGACY_KEY_LABEL] ?? 0) + r.n;
    return usage;
  }
}

type SummarySource = {
  _id: Types.ObjectId; kind: AccountSummary['kind']; label?: string | null; email?: string | null; status?: AccountStatus;
  statusReason?: string | null; statusChangedAt?: Date | null; createdAt: Date; discovery?: unknown; lastDiscoveryAt?: Date | null;
  lastDiscoveryError?: { code: string; message: string; at: Date } | null;
};

function summaryOf(d: SummarySource): AccountSummary {
  return {
    id: d._id.toHexString(), kind: d.kind, label: d.label ?? null, email: d.email ?? null,
    status: d.status ?? 'active', statusReason: d.statusReason ?? null, statusChangedAt: d.statusChangedAt ?? null,
    discovery: { ...policyOf(d.discovery as Parameters<typeof policyOf>[0]), lastDiscoveryAt: d.lastDiscoveryAt ?? null, lastError: d.lastDiscoveryError ?? null },
    createdAt: d.createdAt,
  };
}

function toSealed(s: SealedCredentialsRecord): SealedSecret {
  const parts = { iv: toBuffer(s.iv), tag: toBuffer(s.tag), ciphertext: toBuffer(s.ciphertext) };
  // `v` is passed through as stored: open() refuses a format version it does not know.
  if (s.v === 2) return { v: 2, keyId: String(s.keyId ?? ''), ...parts };
  return { v: s.v as 1, ...parts };
}

/** Lean reads return BSON Binary for Buffer paths on some drivers; normalise to Buffer. */
function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  const binary = value as { buffer?: unknown } | null;
  if (binary?.buffer instanceof Uint8Array) return Buffer.from(binary.buffer);
  throw new TypeError('sealed credential field is not binary');
}
