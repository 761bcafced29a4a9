// Google-shaped API errors. Calendar API clients (googleapis, calsync's classifier) branch on
// `code` + `errors[0].reason`, so every error the emulator emits goes through this one module.

export interface GoogleErrorItem {
  domain: string;
  reason: string;
  message: string;
  locationType?: string;
  location?: string;
}

export interface GoogleErrorBody {
  error: { errors: GoogleErrorItem[]; code: number; message: string };
}

export class GoogleApiError extends Error {
  readonly status: number;
  readonly item: GoogleErrorItem;
  /** Extra response headers (e.g. Retry-After on injected faults). */
  readonly headers: Record<string, string>;

  constructor(status: number, item: GoogleErrorItem, headers: Record<string, string> = {}) {
    super(item.message);
    this.status = status;
    this.item = item;
    this.headers = headers;
  }

  // Key order matches what Google sends (errors first), so a byte-level comparison with a
  // captured Google response (e.g. the 410 body in DESIGN.md) also holds.
  toBody(): GoogleErrorBody {
    return { error: { errors: [{ ...this.item }], code: this.status, message: this.item.message } };
  }
}

type Location = { location?: string; locationType?: string };

function err(status: number, domain: string, reason: string, message: string, loc: Location = {}) {
  return new GoogleApiError(status, { domain, reason, message, ...loc });
}

const param = (name: string): Location => ({ locationType: 'parameter', location: name });

export const errors = {
  invalidParam: (name: string, message = `Invalid value for: ${name}`) =>
    err(400, 'global', 'invalid', message, param(name)),
  outOfRange: (name: string, value: string, min: number, max: number) =>
    err(400, 'global', 'invalid', `Invalid value '${value}'. Values must be within the range: [${min}, ${max}]`, param(name)),
  badRequest: (message = 'Bad Request') => err(400, 'global', 'badRequest', message),
  invalid: (message: string) => err(400, 'global', 'invalid', message),
  required: (message: string) => err(400, 'global', 'required', message),
  timeRangeEmpty: (location: string) =>
    err(400, 'calendar', 'timeRangeEmpty', 'The specified time range is empty.', param(location)),
  parseError: () => err(400, 'global', 'parseError', 'Parse Error'),
  authError: () =>
    err(401, 'global', 'authError', 'Invalid Credentials', { locationType: 'header', location: 'Authorization' }),
  notFound: () => err(404, 'global', 'notFound', 'Not Found'),
  duplicate: () => err(409, 'global', 'duplicate', 'The requested identifier already exists.'),
  deleted: () => err(410, 'global', 'deleted', 'Resource has been deleted'),
  // Exact body from DESIGN.md section 2; clients deep-compare it.
  fullSyncRequired: () =>
    err(410, 'calendar', 'fullSyncRequired', 'Sync token is no longer valid, a full sync is required.', param('syncToken')),
  // Errors guide, "410: Gone": updatedMin older than the history Google keeps.
  updatedMinTooLongAgo: () =>
    err(410, 'calendar', 'updatedMinTooLongAgo', 'The requested minimum modification time lies too far in the past.', param('updatedMin')),
  // Version-resources guide: a conditional write whose If-Match etag is stale.
  conditionNotMet: () =>
    err(412, 'global', 'conditionNotMet', 'Precondition Failed', { locationType: 'header', location: 'If-Match' }),
  invalidFields: (value: string) =>
    err(400, 'global', 'invalidParameter', `Invalid field selection ${value}`, param('fields')),
  backendError: () => err(500, 'global', 'backendError', 'Backend Error'),
};

const DEFAULT_FAULT: Record<number, { domain: string; reason: string; message: string }> = {
  400: { domain: 'global', reason: 'badRequest', message: 'Bad Request' },
  401: { domain: 'global', reason: 'authError', message: 'Invalid Credentials' },
  403: { domain: 'usageLimits', reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded' },
  404: { domain: 'global', reason: 'notFound', message: 'Not Found' },
  409: { domain: 'global', reason: 'conflict', message: 'Conflict' },
  410: { domain: 'global', reason: 'deleted', message: 'Resource has been deleted' },
  429: { domain: 'usageLimits', reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded' },
  500: { domain: 'global', reason: 'backendError', message: 'Backend Error' },
  502: { domain: 'global', reason: 'backendError', message: 'Bad Gateway' },
  503: { domain: 'global', reason: 'backendError', message: 'Service Unavailable' },
  504: { domain: 'global', reason: 'backendError', message: 'Gateway Timeout' },
};

const REASON_DOMAIN: Record<string, string> = {
  rateLimitExceeded: 'usageLimits',
  userRateLimitExceeded: 'usageLimits',
  quotaExceeded: 'usageLimits',
  dailyLimitExceeded: 'usageLimits',
  fullSyncRequired: 'calendar',
  timeRangeEmpty: 'calendar',
};

const REASON_MESSAGE: Record<string, string> = {
  rateLimitExceeded: 'Rate Limit Exceeded',
  userRateLimitExceeded: 'User Rate Limit Exceeded',
  quotaExceeded: 'Calendar usage limits exceeded.',
  forbidden: 'Forbidden',
};

/** An injected fault: defaults follow Google's pairing of status and reason. */
export function faultError(status: number, reason?: string, message?: string, retryAfter?: number): GoogleApiError {
  if (status === 410 && reason === 'fullSyncRequired') return errors.fullSyncRequired();
  const base = DEFAULT_FAULT[status] ?? { domain: 'global', reason: 'backendError', message: 'Error' };
  const r = reason ?? base.reason;
  const headers: Record<string, string> = retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) };
  return new GoogleApiError(
    status,
    {
      domain: REASON_DOMAIN[r] ?? base.domain,
      reason: r,
      message: message ?? (reason ? (REASON_MESSAGE[r] ?? base.message) : base.message),
    },
    headers,
  );
}
