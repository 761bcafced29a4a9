import type { KeyRing } from '../crypto/key-ring.js';
import { open, seal, type SealedSecret } from '../crypto/secret-box.js';

/** What an account authenticates with. Plaintext exists only in memory, never in the database or logs. */

export interface OAuthCredentials {
  kind: 'oauth';
  refreshToken: string;
}

/** A Google service-account JSON key (client_email, private_key, …) impersonating `subject`. */
export interface ServiceAccountCredentials {
  kind: 'service_account';
  serviceAccountKey: Record<string, unknown>;
  subject: string;
}

export type AccountCredentials = OAuthCredentials | ServiceAccountCredentials;

export class CredentialsFormatError extends Error {
  readonly code = 'CREDENTIALS_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'CredentialsFormatError';
  }
}

/** Parses what was sealed back into credentials; the shape is checked because the blob outlives code versions. */
export function parseCredentials(json: string): AccountCredentials {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new CredentialsFormatError('sealed credentials are not JSON');
  }
  const v = value as Partial<Record<string, unknown>>;
  if (v.kind === 'oauth' && typeof v.refreshToken === 'string') return { kind: 'oauth', refreshToken: v.refreshToken };
  if (
    v.kind === 'service_account' &&
    typeof v.subject === 'string' &&
    typeof v.serviceAccountKey === 'object' &&
    v.serviceAccountKey !== null
  ) {
    return { kind: 'service_account', subject: v.subject, serviceAccountKey: v.serviceAccountKey as Record<string, unknown> };
  }
  throw new CredentialsFormatError('sealed credentials have an unknown shape');
}

/**
 * The AES-GCM additional data: the ciphertext is bound to its account, so a sealed blob copied onto
 * another account's document does not open there.
 */
const aadFor = (accountId: string): string => `calsync:account:${accountId}`;

/** Seals credentials for one account with the current key. */
export function sealCredentials(keys: KeyRing, accountId: string, credentials: AccountCredentials): SealedSecret {
  return seal(keys.current, JSON.stringify(credentials), aadFor(accountId));
}

/** Opens an account's sealed credentials with whichever listed key sealed them. Throws SecretBoxError. */
export function openCredentials(keys: KeyRing, accountId: string, sealed: SealedSecret): AccountCredentials {
  return parseCredentials(open(keys, sealed, aadFor(accountId)));
}
