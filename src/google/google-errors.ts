/**
 * The one place that turns a failure of a Google call into a decision-ready kind (DESIGN.md §2):
 *
 * - `dead_token`   410 `fullSyncRequired`, or a 400 on a request that carried a sync token:
 *                  clear the token and full-sync.
 * - `rate_limited` 429, or 403 `rateLimitExceeded` / `userRateLimitExceeded`: back off and retry.
 * - `transient`    408, 500/502/503/504 and network failures: back off and retry.
 * - `permission`   401, any other 403, `invalid_grant` from the token endpoint: a human must act.
 * - `not_found`    404: the calendar is gone or no longer shared.
 * - `bad_request`  any other 4xx: our bug; retrying will not help.
 *
 * The sync engine decides retry / full resync / fail from `kind` alone.
 */

export type GoogleErrorKind = 'dead_token' | 'rate_limited' | 'transient' | 'permission' | 'not_found' | 'bad_request';

export interface ClassifiedGoogleError {
  kind: GoogleErrorKind;
  /** HTTP status when there was a response. */
  status: number | null;
  /** First Google error reason (`fullSyncRequired`, `rateLimitExceeded`, `invalid_grant`, …) or a network code. */
  reason: string | null;
  /** Parsed `Retry-After`, in milliseconds, when the response carried one. */
  retryAfterMs: number | null;
  /** Short, token-free description for logs and `lastError`. */
  message: string;
}

export interface ClassifyContext {
  /** The failing request carried a syncToken: a 400 then means the token is unusable. */
  syncTokenInUse?: boolean;
}

const RATE_LIMIT_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded']);
const TRANSIENT_STATUSES = new Set([408, 500, 502, 503, 504]);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'TimeoutError',
]);

type Loose = Record<string, unknown>;
const isObject = (v: unknown): v is Loose => typeof v === 'object' && v !== null;

function responseOf(err: Loose): Loose | null {
  return isObject(err.response) ? err.response : null;
}

function statusOf(err: Loose): number | null {
  const res = responseOf(err);
  const candidates = [res?.status, err.status, typeof err.code === 'number' ? err.code : undefined];
  for (const c of candidates) if (typeof c === 'number' && c >= 100 && c < 600) return c;
  return null;
}

/** Google API errors carry `error.errors[0].reason`; OAuth token errors carry `error: "invalid_grant"`. */
function reasonOf(err: Loose): string | null {
  const data = responseOf(err)?.data;
  if (!isObject(data)) return null;
  if (typeof data.error === 'string') return data.error;
  if (isObject(data.error)) {
    const errors = data.error.errors;
    if (Array.isArray(errors) && isObject(errors[0]) && typeof errors[0].reason === 'string') return errors[0].reason;
    if (typeof data.error.status === 'string') return data.error.status;
  }
  return null;
}

function headerOf(err: Loose, name: string): string | null {
  const headers = responseOf(err)?.headers;
  if (!headers) return null;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
  if (isObject(headers)) {
    const v = headers[name] ?? headers[name.toLowerCase()];
    return typeof v === 'string' ? v : null;
  }
  return null;
}

/** `Retry-After` is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** Walks `cause` links: fetch wraps socket errors (`TypeError: fetch failed` → `ECONNRESET`). */
function networkCodeOf(err: unknown): string | null {
  let cur: unknown = err;
  for (let depth = 0; depth < 5 && isObject(cur); depth++) {
    const code = cur.code ?? cur.name;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    cur = cur.cause;
  }
  return null;
}

function kindFor(status: number, reason: string | null, ctx: ClassifyContext): GoogleErrorKind {
  // invalid_grant comes back as a 400 from the token endpoint, possibly during an incremental call:
  // it must win over "400 on a token", or a revoked account would loop through full syncs.
  if (reason === 'invalid_grant' || reason === 'unauthorized_client' || reason === 'invalid_client') return 'permission';
  if (status === 410) return 'dead_token';
  if (status === 429) return 'rate_limited';
  if (status === 403) return reason && RATE_LIMIT_REASONS.has(reason) ? 'rate_limited' : 'permission';
  if (status === 401) return 'permission';
  if (TRANSIENT_STATUSES.has(status) || status >= 500) return 'transient';
  if (status === 404) return 'not_found';
  if (status === 400 && ctx.syncTokenInUse) return 'dead_token';
  return 'bad_request';
}

export function classifyGoogleError(err: unknown, ctx: ClassifyContext = {}): ClassifiedGoogleError {
  if (!isObject(err)) return { kind: 'transient', status: null, reason: null, retryAfterMs: null, message: String(err) };
  const status = statusOf(err);
  const reason = reasonOf(err);
  if (status === null) {
    const code = networkCodeOf(err);
    // No response at all: the request never completed. Unknown causes are treated as transient
    // too, so a flaky network never forces a full sync or a human.
    return { kind: 'transient', status: null, reason: code, retryAfterMs: null, message: code ?? 'network error' };
  }
  return {
    kind: kindFor(status, reason, ctx),
    status,
    reason,
    retryAfterMs: parseRetryAfter(headerOf(err, 'retry-after')),
    message: reason ? `HTTP ${status} ${reason}` : `HTTP ${status}`,
  };
}

/** A classified failure, thrown by the Google boundary so callers never inspect gaxios errors. */
export class GoogleApiError extends Error {
  readonly kind: GoogleErrorKind;
  readonly status: number | null;
  readonly reason: string | null;
  readonly retryAfterMs: number | null;
  constructor(c: ClassifiedGoogleError, options?: { cause?: unknown }) {
    super(c.message, options);
    this.name = 'GoogleApiError';
    this.kind = c.kind;
    this.status = c.status;
    this.reason = c.reason;
    this.retryAfterMs = c.retryAfterMs;
  }
}

export function toGoogleApiError(err: unknown, ctx: ClassifyContext = {}): GoogleApiError {
  if (err instanceof GoogleApiError) return err;
  return new GoogleApiError(classifyGoogleError(err, ctx), { cause: err });
}

/**
 * Google refused the account's refresh token itself (`invalid_grant` from the token endpoint: revoked,
 * expired, or the user removed access): only a person reconnecting the account helps. Looks through
 * `cause` links, so a SyncError wrapping the classified error still answers.
 */
export function isRevokedGrant(err: unknown): boolean {
  let cur: unknown = err;
  for (let depth = 0; depth < 5 && isObject(cur); depth++) {
    if (cur instanceof GoogleApiError) return cur.reason === 'invalid_grant';
    if (isObject(cur.response)) return classifyGoogleError(cur).reason === 'invalid_grant';
    cur = cur.cause;
  }
  return false;
}
