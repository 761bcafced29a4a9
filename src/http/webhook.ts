import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { WEBHOOK_PATH } from '../channels/channel-token.js';
import { parsePingHeaders, type RejectionReason } from '../webhook/ping.js';
import type { PingReceiver } from '../webhook/ping-receiver.js';
import type { WebhookMetrics } from '../webhook/metrics.js';
import { webhookLimits } from './webhook-limits.js';

export interface WebhookRoutesOptions {
  receiver: PingReceiver;
  metrics: WebhookMetrics;
  /**
   * Requests per window from one source (IPv6 grouped by /64), and failed requests per window from
   * all sources together (per process); see webhook-limits.ts.
   */
  rateLimit: { perSource: number; global: number; windowMs?: number };
}

/** Pings carry no body; anything above this is refused as too large without being read. */
const MAX_BODY_BYTES = 1024;

const errorBody = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

const okBody = {
  type: 'object',
  properties: { result: { type: 'string', enum: ['sync_requested', 'acknowledged', 'stale'] } },
  required: ['result'],
} as const;

const responses = { 200: okBody, 400: errorBody, 403: errorBody, 405: errorBody, 413: errorBody, 429: errorBody, 503: errorBody };

/**
 * POST /webhooks/google-calendar: Google's pings. Thin on purpose: limit, check the request shape,
 * hand the headers to the ping receiver (verification + sync request), answer at once. Bad input
 * gets a 4xx and changes nothing (docs/webhook.md lists every answer); only our own storage
 * failing yields a 503, so Google retries a ping we could not judge.
 */
export const webhookRoutes: FastifyPluginAsync<WebhookRoutesOptions> = async (app, opts) => {
  const { metrics } = opts;
  const windowMs = opts.rateLimit.windowMs ?? 60_000;

  // Scoped to this plugin: the limits apply to pings only. Per-source first; the global budget is
  // spent by failed requests only, so floods cannot starve verified pings.
  await app.register(rateLimit, { global: false });
  const limits = webhookLimits(app, { perSource: opts.rateLimit.perSource, failedGlobal: opts.rateLimit.global, windowMs });

  const reject = async (
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    reason: RejectionReason,
    message: string,
    code = reason.toUpperCase(),
  ) => {
    metrics.rejected(reason);
    if (reason !== 'rate_limited_source' && reason !== 'rate_limited_global') await limits.failed(req);
    // Never the token: only the channel id (not secret) and the reason.
    req.log.info({ reason, channelId: headerValue(req, 'x-goog-channel-id'), remoteAddress: req.ip }, 'ping rejected');
    return reply.code(status).send({ error: { code, message } });
  };

  // Body parsing never happens for a ping: onRequest below refuses any body before it is read.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  const guard = async (req: FastifyRequest, reply: FastifyReply) => {
    const admission = await limits.admit(req);
    if (!admission.ok) {
      void reply.header('retry-after', String(admission.retryAfterSeconds));
      return reject(req, reply, 429, admission.reason, 'too many requests');
    }
    const length = Number(req.headers['content-length'] ?? 0);
    if (!Number.isFinite(length) || length > MAX_BODY_BYTES) {
      return reject(req, reply, 413, 'payload_too_large', 'pings have no body');
    }
    if (length > 0 || req.headers['transfer-encoding'] !== undefined) {
      return reject(req, reply, 400, 'body_not_allowed', 'pings have no body');
    }
  };

  app.route({
    method: 'POST',
    url: WEBHOOK_PATH,
    bodyLimit: MAX_BODY_BYTES,
    onRequest: guard,
    schema: { summary: 'Google Calendar push notification', response: responses },
    handler: async (req, reply) => {
      const parsed = parsePingHeaders(req.headers);
      if (!parsed.ok) return reject(req, reply, 400, parsed.reason, parsed.message);
      let result;
      try {
        result = await opts.receiver.receive(parsed.ping);
      } catch (err) {
        metrics.failed();
        req.log.error({ err, channelId: parsed.ping.channelId }, 'ping could not be handled');
        return reply.code(503).send({ error: { code: 'UNAVAILABLE', message: 'try again later' } });
      }
      // One answer for every verification failure: the caller learns nothing about our channels.
      if (!result.accepted) return reject(req, reply, 403, result.reason, 'ping not verified', 'PING_REJECTED');
      await limits.verified(req);
      metrics.handled(result.outcome);
      req.log.debug({ channelId: result.channelId, calendarId: result.calendarId, outcome: result.outcome }, 'ping handled');
      return reply.code(200).send({ result: result.outcome });
    },
  });

  app.route({
    // Methods Fastify does not route (PROPFIND, …) get the same 405 from the app's not-found handler.
    method: ['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'],
    url: WEBHOOK_PATH,
    onRequest: guard,
    schema: { response: { 405: errorBody, 400: errorBody, 413: errorBody, 429: errorBody } },
    handler: async (req, reply) => {
      void reply.header('allow', 'POST');
      return reject(req, reply, 405, 'method_not_allowed', 'use POST');
    },
  });

  // Anything that still fails inside this plugin (e.g. a body slipping past the guard) stays a 4xx.
  app.setErrorHandler((err, req, reply) => {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 413) return reject(req, reply, 413, 'payload_too_large', 'pings have no body');
    if (status && status >= 400 && status < 500) return reject(req, reply, 400, 'body_not_allowed', 'pings have no body');
    metrics.failed();
    req.log.error({ err }, 'ping could not be handled');
    return reply.code(503).send({ error: { code: 'UNAVAILABLE', message: 'try again later' } });
  });
};

function headerValue(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' && v.length <= 64 ? v : undefined;
}
