import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface WebhookLimitOptions {
  /** Requests per window from one source (an IPv4 address, or an IPv6 /64). */
  perSource: number;
  /** Requests per window, all sources together, that fail (malformed or not verified). */
  failedGlobal: number;
  windowMs: number;
  /** How long a source that delivered a verified ping stays known. */
  knownSourceMs?: number;
}

export type Admission = { ok: true } | { ok: false; reason: 'rate_limited_source' | 'rate_limited_global'; retryAfterSeconds: number };

export interface WebhookLimits {
  /** Decided before anything is read or looked up. */
  admit(req: FastifyRequest): Promise<Admission>;
  /** A request that turned out malformed or unverified spends the shared budget for failures. */
  failed(req: FastifyRequest): Promise<void>;
  /** A verified ping makes its source known. */
  verified(req: FastifyRequest): Promise<void>;
}

/**
 * The webhook's flood protection, on @fastify/rate-limit's in-memory store (per process).
 *
 * Sources are keyed by the library's default: the client address normalised (one address written
 * several ways is one key, `::ffff:a.b.c.d` is `a.b.c.d`) with IPv6 grouped by /64, because one
 * client usually holds a whole /64 and could otherwise rotate through it.
 *
 * The shared budget is spent only by requests that fail. Once it is spent, only sources that
 * delivered a verified ping recently are admitted (Google's delivery addresses, in practice); so a
 * handful of flooding sources cannot starve real pings, and they cannot join the known sources
 * without a channel token. Requires the rate-limit plugin registered in `app`'s scope.
 */
export function webhookLimits(app: FastifyInstance, opts: WebhookLimitOptions): WebhookLimits {
  const perSource = app.createRateLimit({ max: opts.perSource, timeWindow: opts.windowMs });
  const failures = app.createRateLimit({ max: opts.failedGlobal, timeWindow: opts.windowMs, keyGenerator: () => 'calsync:webhook:failed' });
  // A counter only read as "seen or not": no limit of its own.
  const known = app.createRateLimit({ max: Number.MAX_SAFE_INTEGER, timeWindow: opts.knownSourceMs ?? 60 * opts.windowMs });
  const peek = { increment: false } as const;

  return {
    async admit(req) {
      const source = await perSource(req);
      if (!source.isAllowed && source.isExceeded) return { ok: false, reason: 'rate_limited_source', retryAfterSeconds: source.ttlInSeconds };
      const spent = await failures(req, peek);
      if (spent.isAllowed || spent.remaining > 0) return { ok: true };
      const seen = await known(req, peek);
      if (!seen.isAllowed && seen.remaining < seen.max) return { ok: true };
      return { ok: false, reason: 'rate_limited_global', retryAfterSeconds: Math.max(1, spent.ttlInSeconds) };
    },
    async failed(req) {
      await failures(req);
    },
    async verified(req) {
      await known(req);
    },
  };
}
