import { Schema, type Connection } from 'mongoose';
import type { KeyRing } from '../crypto/key-ring.js';
import { open, seal, type SealedSecret } from '../crypto/secret-box.js';
import { sha256Hex } from '../crypto/hash.js';
import { policyOf, type DiscoveryPolicy } from '../discovery/policy.js';

/**
 * One started consent: what the callback needs to finish it. Keyed by the SHA-256 of `state` (the
 * state itself is never stored), bound to the starting browser by the SHA-256 of a nonce kept in
 * that browser's cookie, holding the PKCE verifier sealed. Consumed with one atomic
 * findOneAndDelete, so a state works once; `expiresAt` is checked on read (the TTL index only
 * sweeps, and may lag).
 */
const connectSessionSchema = new Schema(
  {
    _id: { type: String, required: true },
    nonceHash: { type: String, required: true },
    sealedVerifier: { iv: Buffer, tag: Buffer, ciphertext: Buffer, v: Number, keyId: String },
    /** The discovery policy the connect link asked for (none: the account's default / unchanged). */
    discovery: { type: new Schema({ policy: String, calendarIds: [String], onRemoved: String }, { _id: false }), default: null },
    expiresAt: { type: Date, required: true },
  },
  { collection: 'connect_sessions', timestamps: { createdAt: true, updatedAt: false } },
);
connectSessionSchema.index({ expiresAt: 1 }, { expireAfterSeconds: 0 });

const build = (conn: Connection) => conn.model('ConnectSession', connectSessionSchema);
type ConnectSessionModel = ReturnType<typeof build>;
const modelFor = (conn: Connection): ConnectSessionModel => (conn.models.ConnectSession as ConnectSessionModel | undefined) ?? build(conn);

const aadFor = (stateHash: string) => `calsync:connect:${stateHash}`;

export class ConnectSessions {
  private readonly Session: ConnectSessionModel;

  constructor(
    conn: Connection,
    private readonly keys: KeyRing,
    private readonly now: () => number = Date.now,
  ) {
    this.Session = modelFor(conn);
  }

  async save(s: { state: string; nonce: string; codeVerifier: string; ttlMs: number; discovery?: DiscoveryPolicy }): Promise<void> {
    const _id = sha256Hex(s.state);
    await this.Session.create({
      _id,
      nonceHash: sha256Hex(s.nonce),
      sealedVerifier: seal(this.keys.current, s.codeVerifier, aadFor(_id)),
      expiresAt: new Date(this.now() + s.ttlMs),
      discovery: s.discovery ?? null,
    });
  }

  /**
   * Takes the session for `state` if it exists, is unexpired and was started by the browser holding
   * `nonce`; returns its PKCE verifier. Undefined otherwise (forged, expired, replayed, other browser):
   * a mismatching browser does not use the state up, so it cannot be burnt by someone else.
   */
  async consume(state: string, nonce: string | undefined): Promise<{ codeVerifier: string; discovery?: DiscoveryPolicy } | undefined> {
    if (!state || !nonce) return undefined;
    const _id = sha256Hex(state);
    const doc = await this.Session.findOneAndDelete({ _id, nonceHash: sha256Hex(nonce), expiresAt: { $gt: new Date(this.now()) } }).lean();
    if (!doc?.sealedVerifier) return undefined;
    const s = doc.sealedVerifier as unknown as Record<string, unknown>;
    const sealed = { v: 2, keyId: String(s.keyId), iv: toBuffer(s.iv), tag: toBuffer(s.tag), ciphertext: toBuffer(s.ciphertext) } as SealedSecret;
    const codeVerifier = open(this.keys, sealed, aadFor(_id));
    return doc.discovery ? { codeVerifier, discovery: policyOf(doc.discovery as Parameters<typeof policyOf>[0]) } : { codeVerifier };
  }
}

function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  const binary = value as { buffer?: unknown } | null;
  if (binary?.buffer instanceof Uint8Array) return Buffer.from(binary.buffer);
  throw new TypeError('sealed field is not binary');
}
