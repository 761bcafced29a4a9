import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM sealing for secrets at rest (account credentials). A fresh 96-bit IV per seal; the
 * 128-bit tag makes any tampering (or a wrong key) fail loudly instead of yielding garbage.
 * `aad` binds a ciphertext to its owner (e.g. the account id), so a sealed value copied onto
 * another document does not open there.
 */

export interface SealedSecret {
  /** Format version, so the scheme can change without guessing. */
  v: 1;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

export class SecretBoxError extends Error {
  readonly code = 'SECRET_UNREADABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretBoxError';
  }
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

function checkKey(key: Buffer): void {
  if (key.length !== 32) throw new SecretBoxError('encryption key must be 32 bytes');
}

export function seal(key: Buffer, plaintext: string, aad: string): SealedSecret {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { v: 1, iv, tag: cipher.getAuthTag(), ciphertext };
}

export function open(key: Buffer, sealed: SealedSecret, aad: string): string {
  checkKey(key);
  if (sealed.v !== 1 || sealed.iv.length !== IV_BYTES || sealed.tag.length !== TAG_BYTES) {
    throw new SecretBoxError('sealed secret has an unknown format');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(sealed.tag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
  } catch (err) {
    // Never include the cause's message in ours: it says nothing useful and callers log ours.
    throw new SecretBoxError('sealed secret cannot be opened (wrong ENCRYPTION_KEY or tampered data)', { cause: err });
  }
}
