import t from 'tap';
import { classifyGoogleError, parseRetryAfter } from '../../src/google/google-errors.js';

/** The shape gaxios gives a failed API call. */
function apiError(status: number, reason?: string, headers: Record<string, string> = {}) {
  const data = reason ? { error: { code: status, message: reason, errors: [{ domain: 'global', reason }] } } : {};
  return Object.assign(new Error(`status ${status}`), { status, response: { status, data, headers: new Headers(headers) } });
}

t.test('410 fullSyncRequired is a dead token', async (t) => {
  t.equal(classifyGoogleError(apiError(410, 'fullSyncRequired'), { syncTokenInUse: true }).kind, 'dead_token');
});

t.test('a 400 on a request carrying a sync token is a dead token; without one it is a bad request', async (t) => {
  t.equal(classifyGoogleError(apiError(400, 'invalid'), { syncTokenInUse: true }).kind, 'dead_token');
  t.equal(classifyGoogleError(apiError(400, 'invalid'), { syncTokenInUse: false }).kind, 'bad_request');
});

t.test('429 and 403 rate-limit reasons are rate limits; other 403s are permission problems', async (t) => {
  t.equal(classifyGoogleError(apiError(429, 'rateLimitExceeded')).kind, 'rate_limited');
  t.equal(classifyGoogleError(apiError(429)).kind, 'rate_limited');
  t.equal(classifyGoogleError(apiError(403, 'rateLimitExceeded')).kind, 'rate_limited');
  t.equal(classifyGoogleError(apiError(403, 'userRateLimitExceeded')).kind, 'rate_limited');
  t.equal(classifyGoogleError(apiError(403, 'forbidden')).kind, 'permission');
  t.equal(classifyGoogleError(apiError(403, 'insufficientPermissions')).kind, 'permission');
  t.equal(classifyGoogleError(apiError(401, 'authError')).kind, 'permission');
});

t.test('invalid_grant from the token endpoint is a permission problem even during an incremental sync', async (t) => {
  const err = Object.assign(new Error('invalid_grant'), {
    status: 400,
    response: { status: 400, data: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' }, headers: new Headers() },
  });
  const c = classifyGoogleError(err, { syncTokenInUse: true });
  t.equal(c.kind, 'permission');
  t.equal(c.reason, 'invalid_grant');
});

t.test('5xx and network failures are transient', async (t) => {
  for (const status of [500, 502, 503, 504]) t.equal(classifyGoogleError(apiError(status, 'backendError')).kind, 'transient', String(status));
  const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  t.equal(classifyGoogleError(reset).kind, 'transient');
  const fetchFailed = new TypeError('fetch failed', { cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) });
  const c = classifyGoogleError(fetchFailed);
  t.equal(c.kind, 'transient');
  t.equal(c.reason, 'ECONNREFUSED');
});

t.test('404 is not found', async (t) => {
  t.equal(classifyGoogleError(apiError(404, 'notFound')).kind, 'not_found');
});

t.test('Retry-After is read in seconds or as an HTTP date', async (t) => {
  t.equal(classifyGoogleError(apiError(429, 'rateLimitExceeded', { 'retry-after': '3' })).retryAfterMs, 3000);
  t.equal(classifyGoogleError(apiError(503)).retryAfterMs, null);
  const now = Date.parse('2026-01-01T00:00:00Z');
  t.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
  t.equal(parseRetryAfter('soon', now), null);
});
