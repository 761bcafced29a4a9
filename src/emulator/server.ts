// The emulator's Fastify app: routes, body parsers googleapis needs (form-encoded token
// requests, bodyless JSON requests) and one error handler that answers in Google's shapes.
// It never listens: index.ts owns the socket.

import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { GoogleApiError, errors } from './errors.js';
import { channelRoutes } from './routes/channels.js';
import { controlRoutes } from './routes/control.js';
import { eventRoutes } from './routes/events.js';
import { oauthRoutes } from './routes/oauth.js';
import { authorizeRoutes } from './routes/authorize.js';
import { calendarListRoutes } from './routes/calendar-list.js';
import { identityControlRoutes } from './routes/identity-control.js';
import type { EmulatorState } from './state.js';

export function buildEmulatorApp(state: EmulatorState, opts: { logger?: boolean } = {}): FastifyInstance {
  const app = Fastify({
    logger: opts.logger ? { level: 'info', redact: ['req.headers.authorization'] } : false,
    bodyLimit: 64 * 1024 * 1024,
    // Control bodies must fail on unknown or mistyped fields rather than be silently fixed up.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
  });

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    if (body === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(errors.parseError(), undefined);
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.setErrorHandler((err: FastifyError | GoogleApiError, req, reply) => {
    if (err instanceof GoogleApiError) return reply.code(err.status).headers(err.headers).send(err.toBody());
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      req.log.error({ err }, 'emulator internal error');
      return reply.code(500).send(errors.backendError().toBody());
    }
    if (req.url.startsWith('/emulator')) return reply.code(status).send({ error: { code: status, message: err.message } });
    const e = status === 400 ? errors.badRequest(err.message) : new GoogleApiError(status, { domain: 'global', reason: 'badRequest', message: err.message });
    return reply.code(e.status).send(e.toBody());
  });

  // Closes the call's log record with the status it was answered with (errors included).
  app.addHook('onResponse', async (req, reply) => state.answered(req.raw, reply.statusCode));

  app.setNotFoundHandler((_req, reply) => reply.code(404).send(errors.notFound().toBody()));

  eventRoutes(app, state);
  channelRoutes(app, state);
  oauthRoutes(app, state);
  controlRoutes(app, state);
  authorizeRoutes(app, state);
  calendarListRoutes(app, state);
  identityControlRoutes(app, state);
  return app;
}
