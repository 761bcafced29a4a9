import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { EncryptionKey, KeyRing } from './key-ring.js';

/**
 * AES-256-GCM sealing for secrets at rest (account credentials). A fresh 96-bit IV per seal; the
 * 128-bit tag makes any tampering (or a wrong key) fail loudly instead of yielding garbage.
 * `aad` binds a ciphertext to its owner (e.g. the account id), so a sealed value copied onto
 * another document does not open there.
 *
 * Format 2 names the key that sealed it (`keyId`), so keys can be rotated: the current key seals,
 * any key still listed opens. Format 1 (before key rotation) carries no key id; it is opened by
 * trying each key, and `npm run rotate-keys` re-seals it as format 2.
 */

export interface SealedSecretV1 {
  v: 1;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

export interface SealedSecretV2 {
  v: 2;
  keyId: string;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

export type SealedSecret = SealedSecretV1 | SealedSecretV2;

export class SecretBoxError extends Error {
  readonly code = 'SECRET_UNREADABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretBoxError';
  }
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

export function seal(key: EncryptionKey, plaintext: string, aad: string): SealedSecretV2 {
  if (key.key.length !== 32) throw new SecretBoxError('encryption key must be 32 bytes');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { v: 2, keyId: key.id, iv, tag: cipher.getAuthTag(), ciphertext };
}

function decrypt(key: Buffer, sealed: SealedSecret, aad: string): string {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.tag);
  return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
}

export function open(keys: KeyRing, sealed: SealedSecret, aad: string): string {
  if ((sealed.v !== 1 && sealed.v !== 2) || sealed.iv.length !== IV_BYTES || sealed.tag.length !== TAG_BYTES) {
    throw new SecretBoxError('sealed secret has an unknown format');
  }
  // Never include a cause's message in ours: it says nothing useful and callers log ours.
  if (sealed.v === 2) {
    const key = keys.byId(sealed.keyId);
    if (!key) throw new SecretBoxError(`sealed secret needs key ${sealed.keyId}, which is not in ENCRYPTION_KEYS`);
    try {
      return decrypt(key.key, sealed, aad);
    } catch (err) {
      throw new SecretBoxError('sealed secret cannot be opened (tampered data, or bound to another owner)', { cause: err });
    }
  }
  // Format 1: any listed key may have sealed it; GCM's tag tells the right one from the others.
  for (const key of keys.keys) {
    try {
      return decrypt(key.key, sealed, aad);
    } catch {
      // try the next key
    }
  }
  throw new SecretBoxError('sealed secret cannot be opened (no key in ENCRYPTION_KEYS fits, tampered data, or bound to another owner)');
}
