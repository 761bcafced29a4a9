import { z } from 'zod';
import cron from 'node-cron';
import { isIP } from 'node:net';

/**
 * The one place that reads the environment. Everything else receives a typed, validated Config.
 * A bad environment is reported as a whole (every problem at once) so an operator fixes it in one go.
 */

const GOOGLE_API_ROOT = 'https://www.googleapis.com/';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

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
    PUBLIC_BASE_URL: httpUrl('must be an http(s) URL (the base URL Google posts pings to)'),
    ADMIN_TOKEN: z.string({ error: 'is required' }).min(32, 'must be at least 32 characters'),
    ENCRYPTION_KEY: z
      .string({ error: 'is required' })
      .trim()
      .refine(
        (v) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(v) && Buffer.from(v, 'base64').length === 32,
        'must be 32 random bytes, base64-encoded (e.g. `openssl rand -base64 32`)',
      ),
    GOOGLE_API_ROOT_URL: httpUrl('must be an http(s) URL').optional().default(GOOGLE_API_ROOT),
    GOOGLE_OAUTH_TOKEN_URL: httpUrl('must be an http(s) URL').optional().default(GOOGLE_TOKEN_URL),
    GOOGLE_CLIENT_ID: z.string().trim().optional().default(''),
    GOOGLE_CLIENT_SECRET: z.string().trim().optional().default(''),
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
        (list) => list.every((a) => { const [ip, bits] = a.split('/'); return isIP(ip ?? '') !== 0 && (bits === undefined || /^\d{1,3}$/.test(bits)); }),
        'must be a comma-separated list of proxy IP addresses or CIDR ranges (e.g. "10.0.0.0/8,127.0.0.1")',
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
  encryptionKey: Buffer;
  google: { apiRootUrl: string; oauthTokenUrl: string; clientId: string; clientSecret: string };
  logLevel: Env['LOG_LEVEL'];
  cronEnabled: boolean;
  cron: { renewSchedule: string; resyncSchedule: string; resyncStaleMinutes: number; pollMinutes: number };
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
  // Google only delivers pings to HTTPS; plain http is for the emulator and local runs.
  const apiRoot = source.GOOGLE_API_ROOT_URL?.trim() || GOOGLE_API_ROOT;
  const usesRealGoogle = apiRoot.replace(/\/?$/, '/') === GOOGLE_API_ROOT;
  if (usesRealGoogle && source.PUBLIC_BASE_URL?.trim().startsWith('http:')) {
    problems.push('PUBLIC_BASE_URL must be https:// when GOOGLE_API_ROOT_URL is Google (http is allowed only against the emulator)');
  }
  const ttl = Number(source.CHANNEL_TTL_SECONDS || 172_800);
  const lead = Number(source.CHANNEL_RENEW_LEAD_SECONDS || 86_400);
  if (Number.isFinite(ttl) && Number.isFinite(lead) && lead >= ttl) {
    // Otherwise every renewal pass would find every fresh channel due and replace it again.
    problems.push('CHANNEL_RENEW_LEAD_SECONDS must be less than CHANNEL_TTL_SECONDS');
  }
  const base = Number(source.SYNC_BACKOFF_BASE_MS || 500);
  const max = Number(source.SYNC_BACKOFF_MAX_MS || 32_000);
  if (Number.isFinite(base) && Number.isFinite(max) && max < base) {
    problems.push('SYNC_BACKOFF_MAX_MS must be at least SYNC_BACKOFF_BASE_MS');
  }
  return problems;
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
  return {
    nodeEnv: e.NODE_ENV,
    mongodbUri: e.MONGODB_URI,
    port: e.PORT,
    host: e.HOST,
    publicBaseUrl: e.PUBLIC_BASE_URL.replace(/\/+$/, ''),
    adminToken: e.ADMIN_TOKEN,
    encryptionKey: Buffer.from(e.ENCRYPTION_KEY, 'base64'),
    google: {
      apiRootUrl: e.GOOGLE_API_ROOT_URL.endsWith('/') ? e.GOOGLE_API_ROOT_URL : `${e.GOOGLE_API_ROOT_URL}/`,
      oauthTokenUrl: e.GOOGLE_OAUTH_TOKEN_URL,
      clientId: e.GOOGLE_CLIENT_ID,
      clientSecret: e.GOOGLE_CLIENT_SECRET,
    },
    logLevel: e.LOG_LEVEL,
    cronEnabled: e.CRON_ENABLED,
    cron: {
      renewSchedule: e.CRON_RENEW_SCHEDULE,
      resyncSchedule: e.CRON_RESYNC_SCHEDULE,
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
