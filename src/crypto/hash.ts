import { createHash, timingSafeEqual } from 'node:crypto';

/** Hex SHA-256: what we store instead of a bearer secret (channel tokens). */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/**
 * Constant-time equality of two strings of any length: both sides are hashed first, so the
 * comparison time depends on neither the content nor the length of the secret.
 */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a, 'utf8').digest(), createHash('sha256').update(b, 'utf8').digest());
}

/** Constant-time comparison of a presented secret with a stored hex SHA-256 of the expected one. */
export function matchesHash(presented: string, storedHex: string): boolean {
  const stored = Buffer.from(storedHex, 'hex');
  const actual = createHash('sha256').update(presented, 'utf8').digest();
  // Only a malformed stored hash has another length; that says nothing about the presented secret.
  if (stored.length !== actual.length) return false;
  return timingSafeEqual(stored, actual);
}
