import { createHmac, hkdfSync } from 'node:crypto';
import { secretsEqual } from '../crypto/hash.js';
import type { DiscoveryPolicy } from '../discovery/policy.js';

/**
 * Signed connect links: the operator's product sends its user to
 *   GET /connect/google?expires=<unix seconds>&sig=<base64url HMAC-SHA256(key, "connect:" + expires)>
 * without holding the admin token in the browser. The key is derived (HKDF-SHA256, info
 * "calsync connect links") from CONNECT_LINK_SECRET, or from ADMIN_TOKEN when that is not set, so
 * the raw secret is never the MAC key. Links carry no account: whoever finishes consent chooses the
 * Google account, and the same Google user always maps to the same calsync account.
 *
 * A link may also carry the discovery policy the account gets (`policy`, `calendarIds`,
 * `onRemoved`); it is then part of what is signed ("connect:" + expires + ":" + policy|onRemoved|ids),
 * so the person following the link cannot change it.
 */
export const MAX_LINK_TTL_S = 24 * 3600;

export function linkKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'calsync', 'calsync connect links', 32));
}

const canonical = (d: DiscoveryPolicy | undefined): string => (d ? `:${d.policy}|${d.onRemoved}|${d.calendarIds.join(',')}` : '');

const mac = (key: Buffer, expires: number, discovery?: DiscoveryPolicy) =>
  createHmac('sha256', key).update(`connect:${expires}${canonical(discovery)}`).digest('base64url');

export function signLink(key: Buffer, expiresAtS: number, discovery?: DiscoveryPolicy): { expires: number; sig: string } {
  return { expires: expiresAtS, sig: mac(key, expiresAtS, discovery) };
}

/** The query parameters that carry a discovery policy on a link (none when it has no policy). */
export function policyParams(d: DiscoveryPolicy | undefined): string {
  if (!d) return '';
  const ids = d.policy === 'explicit' ? `&calendarIds=${encodeURIComponent(d.calendarIds.join(','))}` : '';
  return `&policy=${d.policy}${ids}&onRemoved=${d.onRemoved}`;
}

export type LinkCheck = 'valid' | 'expired' | 'invalid';

export function checkLink(key: Buffer, expires: string | undefined, sig: string | undefined, nowMs: number, discovery?: DiscoveryPolicy): LinkCheck {
  if (!expires || !sig || !/^\d{1,12}$/.test(expires)) return 'invalid';
  const exp = Number(expires);
  if (!secretsEqual(sig, mac(key, exp, discovery))) return 'invalid';
  // A link minted for longer than allowed (by a leaked-but-old key holder) is refused too.
  if (exp * 1000 <= nowMs || exp * 1000 > nowMs + MAX_LINK_TTL_S * 1000) return 'expired';
  return 'valid';
}
