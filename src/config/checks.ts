import { isIP } from 'node:net';

/**
 * Value checks for the environment schema (src/config/env.ts): each answers one question about a raw
 * string, so the schema can name the variable and the problem together.
 */

/** RFC 6750 `b64token`: the only characters an `Authorization: Bearer` header can carry as the token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export const isBearerToken = (v: string): boolean => B64TOKEN.test(v);

/** At least `min` different characters (or bytes): rules out "aaaa…", "abab…" and other non-secrets. */
export function hasVariety(v: string | Buffer, min: number): boolean {
  return new Set<string | number>(typeof v === 'string' ? [...v] : [...v.values()]).size >= min;
}

/**
 * An http(s) base URL with nothing a path cannot be appended to: no query, fragment or credentials.
 * Parsed with WHATWG URL rules, so `HTTP://Host:443/` and `http://host/` compare as their meaning.
 * Returns the normalised form (lower-case scheme and host, default port dropped, no trailing slash).
 */
export function parseBaseUrl(v: string): { ok: true; url: URL; normalised: string } | { ok: false } {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return { ok: false };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false };
  if (url.search || url.hash || v.includes('?') || v.includes('#') || url.username || url.password) return { ok: false };
  return { ok: true, url, normalised: `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}` };
}

/** True for Google's own API hosts however they are spelled (case, trailing dot, explicit port). */
export function isGoogleApiHost(url: URL): boolean {
  const host = url.hostname.replace(/\.$/, '');
  return host === 'googleapis.com' || host.endsWith('.googleapis.com');
}

/** One TRUST_PROXY entry: an IP address, or an IP/prefix CIDR within the family's bit length. */
export function isProxyAddress(entry: string): boolean {
  const [ip = '', bits, ...rest] = entry.split('/');
  const family = isIP(ip);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}
