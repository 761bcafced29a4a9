import { randomBytes, randomUUID } from 'node:crypto';
import { sha256Hex } from '../crypto/hash.js';

/** Path Google posts pings to; the HTTP layer mounts the receiver here. */
export const WEBHOOK_PATH = '/webhooks/google-calendar';

export const webhookAddress = (publicBaseUrl: string): string => `${publicBaseUrl.replace(/\/+$/, '')}${WEBHOOK_PATH}`;

/** A fresh channel id (≤ 64 chars, Google's limit) and token (≤ 256 chars); only the token's hash is stored. */
export function newChannelSecrets(): { id: string; token: string; tokenHash: string } {
  const token = randomBytes(32).toString('base64url');
  return { id: randomUUID(), token, tokenHash: sha256Hex(token) };
}
