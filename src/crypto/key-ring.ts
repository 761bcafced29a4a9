import { createHash } from 'node:crypto';

/**
 * The encryption keys in force: the current one seals, every one opens. A key is named by an id
 * derived from the key itself (first 8 hex digits of its SHA-256), so the id can be stored next to a
 * ciphertext and logged or reported without revealing anything usable about the key.
 */
export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export const keyIdOf = (key: Buffer): string => createHash('sha256').update(key).digest('hex').slice(0, 8);

export class KeyRing {
  readonly current: EncryptionKey;
  /** Every key, current first, in the order the operator listed them. */
  readonly keys: readonly EncryptionKey[];

  /** `keys`: current first, then previous keys still needed to open older ciphertexts. */
  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new Error('a key ring needs at least one key');
    const named = keys.map((key) => {
      if (key.length !== 32) throw new Error('encryption keys must be 32 bytes');
      return { id: keyIdOf(key), key };
    });
    const ids = new Set(named.map((k) => k.id));
    if (ids.size !== named.length) throw new Error('the same encryption key is listed twice');
    this.keys = named;
    this.current = named[0] as EncryptionKey;
  }

  byId(id: string): EncryptionKey | undefined {
    return this.keys.find((k) => k.id === id);
  }
}
