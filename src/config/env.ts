import { z } from 'zod';
import cron from 'node-cron';
import { hasVariety, isBearerToken, isGoogleApiHost, isProxyAddress, parseBaseUrl } from './checks.js';

/**
 * The one place that reads the environment. Everything else receives a typed, validated Config.
 * A bad environment is reported as a whole (every problem at once) so an operator fixes it in one go.
 */

const GOOGLE_API_ROOT = 'https://www.googleapis.com/';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const GOOGLE_AUTH_URL = 'https://accounts.google.com/o/oauth2/v2/auth';
/** Read-only calendar access; openid + email give the Google user id that identifies the account. */
const DEFAULT_CONNECT_SCOPES = 'openid email https://www.googleapis.com/auth/calendar.readonly';

const bool = (fallback: boolean) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      ctx.addIssue({ code: 'custom', message: 'must be true or false' });
      return z.NEVER;
    });

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

const httpUrl = (message: string) =>
  z
    .string({ error: 'is required' })
    .trim()
    .refine((v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        return false;
      }
    }, message);

/** A base URL something is appended to (a path): http(s), no query, fragment or credentials. */
const baseUrl = (message: string) =>
  z
    .string({ error: 'is required' })
    .trim()
    .refine((v) => parseBaseUrl(v).ok, message);
const isBase64Key = (v: string): boolean => /^[A-Za-z0-9+/_-]+={0,2}$/.test(v) && Buffer.from(v, 'base64').length === 32;
const keyBytesHex = (v: string): string => Buffer.from(v, 'base64').toString('hex');

const cronExpr = (fallback: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : fallback))
    .refine((v) => cron.validate(v), 'must be a valid cron expression (e.g. "*/10 * * * *")');

const schema = z
  .object({
    NODE_ENV: z.string().optional().default('production'),
    MONGODB_URI: z
      .string({ error: 'is required' })
      .trim()
      .regex(/^mongodb(\+srv)?:\/\/\S+$/, 'must be a mongodb:// or mongodb+srv:// URI'),
    PORT: int(3000, 0, 65535),
    HOST: z.string().trim().min(1).optional().default('0.0.0.0'),
    PUBLIC_BASE_URL: baseUrl('must be an http(s) URL without query or fragment (the base URL Google posts pings to)'),
    ADMIN_TOKEN: z
      .string({ error: 'is required' })
      // One problem per variable: each check stops the ones after it.
      .min(32, { error: 'must be at least 32 characters', abort: true })
      .refine(isBearerToken, { error: 'must use only the characters a Bearer header carries (A-Z a-z 0-9 - . _ ~ + / and trailing =)', abort: true })
      // A random token of 32+ characters has far more; fewer means a placeholder, not a secret.
      .refine((v) => hasVariety(v, 8), 'must be random (at least 8 different characters), e.g. `openssl rand -base64 32`'),
    // Required unless ENCRYPTION_KEYS is set (checked across fields below).
    ENCRYPTION_KEY: z
      .string()
      .trim()
      .optional()
      .refine((v) => !v || isBase64Key(v), {
        error: 'must be 32 random bytes, base64-encoded (e.g. `openssl rand -base64 32`)',
        abort: true,
      })
      // 32 random bytes hold ~30 different values; an all-zero or patterned key is not a key.
      .refine((v) => !v || hasVariety(Buffer.from(v, 'base64'), 16), 'must be random bytes, not a pattern (e.g. `openssl rand -base64 32`)'),
    ENCRYPTION_KEYS: z
      .string()
      .trim()
      .optional()
      .transform((v) => (v ? v.split(',').map((k) => k.trim()) : []))
      .refine(
        (keys) => keys.every(isBase64Key),
        'must be comma-separated keys, each 32 random bytes base64-encoded, current key first',
      )
      .refine((keys) => new Set(keys.map(keyBytesHex)).size === keys.length, 'lists the same key twice'),
    GOOGLE_API_ROOT_URL: baseUrl('must be an http(s) URL without query or fragment').optional().default(GOOGLE_API_ROOT),
    GOOGLE_OAUTH_TOKEN_URL: httpUrl('must be an http(s) URL').optional().default(GOOGLE_TOKEN_URL),
    GOOGLE_CLIENT_ID: z.string().trim().optional().default(''),
    GOOGLE_CLIENT_SECRET: z.string().trim().optional().default(''),
    GOOGLE_REQUEST_TIMEOUT_MS: int(60_000, 1_000, 600_000),
    GOOGLE_OAUTH_AUTH_URL: httpUrl('must be an http(s) URL').optional().default(GOOGLE_AUTH_URL),
    GOOGLE_OAUTH_REDIRECT_URL: httpUrl('must be an http(s) URL (where Google sends the browser back: PUBLIC_BASE_URL/connect/google/callback)').optional(),
    GOOGLE_OAUTH_SCOPES: z.string().trim().optional().default(DEFAULT_CONNECT_SCOPES)
      .transform((v) => v.split(/[\s,]+/).filter(Boolean))
      .refine((list) => list.length > 0, 'must list at least one scope'),
    CONNECT_LINK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    INCREMENTAL_SYNC_ENABLED: bool(true),
    CRON_ENABLED: bool(true),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .optional()
      .default('info'),
    SYNC_WINDOW_PAST_DAYS: int(30, 0, 3650),
    SYNC_WINDOW_FUTURE_DAYS: int(90, 1, 3650),
    SYNC_SINGLE_EVENTS: bool(true),
    SYNC_MAX_RETRIES: int(5, 0, 20),
    SYNC_BACKOFF_BASE_MS: int(500, 1, 60_000),
    SYNC_BACKOFF_MAX_MS: int(32_000, 1, 300_000),
    SYNC_LEASE_SECONDS: int(120, 5, 3600),
    SYNC_CONCURRENCY: int(4, 1, 256),
    SYNC_MIN_INTERVAL_MS: int(1000, 0, 60_000),
    SYNC_POLL_MS: int(1000, 50, 60_000),
    SYNC_RETRY_AFTER_FAILURE_SECONDS: int(60, 0, 86_400),
    POLL_INTERVAL_MINUTES: int(10, 1, 1440),
    QUOTA_PER_USER_PER_MINUTE: int(500, 1, 1_000_000),
    QUOTA_PER_PROJECT_PER_MINUTE: int(9000, 1, 100_000_000),
    CHANNEL_TTL_SECONDS: int(172_800, 60, 2_592_000),
    CHANNEL_RENEW_LEAD_SECONDS: int(86_400, 0, 2_592_000),
    CRON_RENEW_SCHEDULE: cronExpr('*/10 * * * *'),
    CRON_RESYNC_SCHEDULE: cronExpr('*/15 * * * *'),
    CRON_DISCOVERY_SCHEDULE: cronExpr('23 * * * *'),
    CRON_JITTER_SECONDS: int(10, 0, 600),
    SHUTDOWN_DRAIN_SECONDS: int(5, 0, 20),
    RESYNC_STALE_MINUTES: int(30, 1, 10_080),
    WEBHOOK_RATE_LIMIT_PER_SOURCE: int(600, 1, 1_000_000),
    WEBHOOK_RATE_LIMIT_GLOBAL: int(6000, 1, 10_000_000),
    CHANGE_RETENTION_DAYS: int(7, 1, 365),
    SUBSCRIPTIONS_ALLOW_LOOPBACK: bool(false),
    DELIVERY_TIMEOUT_MS: int(10_000, 100, 120_000),
    DELIVERY_BATCH_SIZE: int(100, 1, 1000),
    DELIVERY_CONCURRENCY: int(8, 1, 256),
    DELIVERY_RETRY_HOURS: int(24, 1, 720),
    DELIVERY_BACKOFF_MAX_SECONDS: int(3600, 1, 86_400),
    TRUST_PROXY: z
      .string()
      .trim()
      .optional()
      .transform((v) => (v ? v.split(',').map((a) => a.trim()).filter(Boolean) : []))
      .refine(
        (list) => list.every(isProxyAddress),
        'must be a comma-separated list of proxy IP addresses or CIDR ranges, prefix ≤ 32 for IPv4 and ≤ 128 for IPv6 (e.g. "10.0.0.0/8,127.0.0.1")',
      ),
  });

type Env = z.output<typeof schema>;

export interface Config {
  nodeEnv: string;
  mongodbUri: string;
  port: number;
  host: string;
  publicBaseUrl: string;
  adminToken: string;
  /** The current key (the first of ENCRYPTION_KEYS, or ENCRYPTION_KEY). */
  encryptionKey: Buffer;
  /** Current key first, then previous keys that still open older ciphertexts. */
  encryptionKeys: Buffer[];
  google: { apiRootUrl: string; oauthTokenUrl: string; clientId: string; clientSecret: string; requestTimeoutMs: number };
  logLevel: Env['LOG_LEVEL'];
  /** After SIGTERM: readiness answers 503 while everything else still runs, so load balancers stop sending first. */
  shutdownDrainSeconds: number;
  /** Connecting accounts through Google's consent screen (GET /connect/google). */
  connect: { authUrl: string; redirectUrl: string; scopes: string[]; linkSecret: string };
  cronEnabled: boolean;
  cron: { renewSchedule: string; resyncSchedule: string; resyncStaleMinutes: number; pollMinutes: number; discoverySchedule: string; jitterSeconds: number };
  /** Google calls per minute the fleet allows itself (below Google's 600 per user, 10,000 per project). */
  quota: { perUserPerMinute: number; perProjectPerMinute: number };
  sync: {
    incrementalEnabled: boolean;
    windowPastDays: number;
    windowFutureDays: number;
    singleEvents: boolean;
    maxRetries: number;
    backoffBaseMs: number;
    backoffMaxMs: number;
    leaseSeconds: number;
    concurrency: number;
    /** Least time between the end of one sync of a calendar and the start of the next. */
    minIntervalMs: number;
    /** How often an idle replica looks for sync work recorded by other replicas. */
    pollMs: number;
    /** First retry of a failed calendar (doubling per consecutive failure, at most 30 min). */
    retryAfterFailureMs: number;
  };
  channels: { ttlSeconds: number; renewLeadSeconds: number };
  webhook: { rateLimitPerSource: number; rateLimitGlobal: number };
  /** The change feed (docs/change-feed.md). */
  changes: { retentionDays: number };
  subscriptions: {
    /** Development only: subscriber URLs on loopback (http or https) are accepted. */
    allowLoopback: boolean;
    timeoutMs: number;
    batchSize: number;
    concurrency: number;
    /** A subscription failing deliveries for this long is marked failing and stops until re-enabled. */
    retryForMs: number;
    backoffMaxMs: number;
  };
  /** Reverse proxies whose X-Forwarded-For is trusted (empty: the socket address is the client). */
  trustProxy: string[];
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Checks that span several variables. They run on the raw values so they are reported together with
 * per-field problems (a schema refinement would be skipped as soon as any single field is invalid).
 */
function crossFieldProblems(source: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  // Google only delivers pings to HTTPS; plain http is for the emulator and local runs. Both URLs
  // are compared as parsed (scheme and host case, port), so no spelling slips past.
  const apiRoot = parseBaseUrl(source.GOOGLE_API_ROOT_URL?.trim() || GOOGLE_API_ROOT);
  const publicBase = parseBaseUrl(source.PUBLIC_BASE_URL?.trim() ?? '');
  if (apiRoot.ok && isGoogleApiHost(apiRoot.url)) {
    if (publicBase.ok && publicBase.url.protocol === 'http:') {
      problems.push('PUBLIC_BASE_URL must be https:// when GOOGLE_API_ROOT_URL is Google (http is allowed only against the emulator)');
    }
    if (apiRoot.url.protocol === 'http:') problems.push('GOOGLE_API_ROOT_URL must be https:// for Google');
  }
  const ttl = Number(source.CHANNEL_TTL_SECONDS || 172_800);
  const lead = Number(source.CHANNEL_RENEW_LEAD_SECONDS || 86_400);
  if (Number.isFinite(ttl) && Number.isFinite(lead) && lead >= ttl) {
    // Otherwise every renewal pass would find every fresh channel due and replace it again.
    problems.push('CHANNEL_RENEW_LEAD_SECONDS must be less than CHANNEL_TTL_SECONDS');
  }
  const single = source.ENCRYPTION_KEY?.trim();
  const ring = source.ENCRYPTION_KEYS?.trim();
  if (!single && !ring) {
    problems.push('ENCRYPTION_KEY is required (or ENCRYPTION_KEYS to rotate keys)');
  } else if (single && ring && isBase64Key(single)) {
    // Both may be set during a change-over only if they agree, so no key is silently ignored.
    const listed = ring.split(',').map((k) => (isBase64Key(k.trim()) ? keyBytesHex(k.trim()) : ''));
    if (!listed.includes(keyBytesHex(single))) problems.push('ENCRYPTION_KEY is not one of ENCRYPTION_KEYS (set only ENCRYPTION_KEYS, current key first)');
  }
  const base = Number(source.SYNC_BACKOFF_BASE_MS || 500);
  const max = Number(source.SYNC_BACKOFF_MAX_MS || 32_000);
  if (Number.isFinite(base) && Number.isFinite(max) && max < base) {
    problems.push('SYNC_BACKOFF_MAX_MS must be at least SYNC_BACKOFF_BASE_MS');
  }
  return problems;
}

/** The schema accepted it already; this only picks the normalised spelling. */
function normalisedBaseUrl(v: string): string {
  const parsed = parseBaseUrl(v);
  if (!parsed.ok) throw new Error('unreachable: base URL validated by the schema');
  return parsed.normalised;
}

/** Validates the whole environment; throws ConfigError naming every problem (never echoing values). */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(source);
  const problems = crossFieldProblems(source);
  if (!parsed.success) {
    problems.push(...parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'} ${issue.message}`));
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError([...new Set(problems)].sort());
  const e = parsed.data;
  const keys = (e.ENCRYPTION_KEYS.length > 0 ? e.ENCRYPTION_KEYS : [e.ENCRYPTION_KEY as string]).map((k) => Buffer.from(k, 'base64'));
  return {
    nodeEnv: e.NODE_ENV,
    mongodbUri: e.MONGODB_URI,
    port: e.PORT,
    host: e.HOST,
    publicBaseUrl: normalisedBaseUrl(e.PUBLIC_BASE_URL),
    adminToken: e.ADMIN_TOKEN,
    encryptionKey: keys[0] as Buffer,
    encryptionKeys: keys,
    google: {
      apiRootUrl: `${normalisedBaseUrl(e.GOOGLE_API_ROOT_URL)}/`,
      oauthTokenUrl: e.GOOGLE_OAUTH_TOKEN_URL,
      clientId: e.GOOGLE_CLIENT_ID,
      clientSecret: e.GOOGLE_CLIENT_SECRET,
      requestTimeoutMs: e.GOOGLE_REQUEST_TIMEOUT_MS,
    },
    logLevel: e.LOG_LEVEL,
    shutdownDrainSeconds: e.SHUTDOWN_DRAIN_SECONDS,
    connect: {
      authUrl: e.GOOGLE_OAUTH_AUTH_URL,
      redirectUrl: e.GOOGLE_OAUTH_REDIRECT_URL ?? `${e.PUBLIC_BASE_URL.replace(/\/+$/, '')}/connect/google/callback`,
      scopes: e.GOOGLE_OAUTH_SCOPES,
      // Without a dedicated secret, links are signed with a key derived from ADMIN_TOKEN (see connect-link.ts).
      linkSecret: e.CONNECT_LINK_SECRET ?? e.ADMIN_TOKEN,
    },
    cronEnabled: e.CRON_ENABLED,
    cron: {
      renewSchedule: e.CRON_RENEW_SCHEDULE,
      resyncSchedule: e.CRON_RESYNC_SCHEDULE,
      // The safety net behind calendarList pings: every discovering account gets a pass.
      discoverySchedule: e.CRON_DISCOVERY_SCHEDULE,
      // Every replica's schedule fires at the same second; each run waits a random part of this first.
      jitterSeconds: e.CRON_JITTER_SECONDS,
      resyncStaleMinutes: e.RESYNC_STALE_MINUTES,
      pollMinutes: e.POLL_INTERVAL_MINUTES,
    },
    quota: { perUserPerMinute: e.QUOTA_PER_USER_PER_MINUTE, perProjectPerMinute: e.QUOTA_PER_PROJECT_PER_MINUTE },
    sync: {
      incrementalEnabled: e.INCREMENTAL_SYNC_ENABLED,
      windowPastDays: e.SYNC_WINDOW_PAST_DAYS,
      windowFutureDays: e.SYNC_WINDOW_FUTURE_DAYS,
      singleEvents: e.SYNC_SINGLE_EVENTS,
      maxRetries: e.SYNC_MAX_RETRIES,
      backoffBaseMs: e.SYNC_BACKOFF_BASE_MS,
      backoffMaxMs: e.SYNC_BACKOFF_MAX_MS,
      leaseSeconds: e.SYNC_LEASE_SECONDS,
      concurrency: e.SYNC_CONCURRENCY,
      minIntervalMs: e.SYNC_MIN_INTERVAL_MS,
      pollMs: e.SYNC_POLL_MS,
      retryAfterFailureMs: e.SYNC_RETRY_AFTER_FAILURE_SECONDS * 1000,
    },
    channels: { ttlSeconds: e.CHANNEL_TTL_SECONDS, renewLeadSeconds: e.CHANNEL_RENEW_LEAD_SECONDS },
    webhook: { rateLimitPerSource: e.WEBHOOK_RATE_LIMIT_PER_SOURCE, rateLimitGlobal: e.WEBHOOK_RATE_LIMIT_GLOBAL },
    changes: { retentionDays: e.CHANGE_RETENTION_DAYS },
    subscriptions: {
      allowLoopback: e.SUBSCRIPTIONS_ALLOW_LOOPBACK,
      timeoutMs: e.DELIVERY_TIMEOUT_MS,
      batchSize: e.DELIVERY_BATCH_SIZE,
      concurrency: e.DELIVERY_CONCURRENCY,
      retryForMs: e.DELIVERY_RETRY_HOURS * 3_600_000,
      backoffMaxMs: e.DELIVERY_BACKOFF_MAX_SECONDS * 1000,
    },
    trustProxy: e.TRUST_PROXY,
  };
}
