import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DATABASE_RETRY_AFTER_SECONDS, DatabaseUnavailableError, isDatabaseUnavailable } from '../db/database-unavailable.js';

/**
 * One error handler: client errors keep their message, server errors never leak theirs. Every body
 * has a stable `code` a client can branch on.
 */
export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  if (isDatabaseUnavailable(err)) {
    // Not our bug and not the client's: say so, and when to come back.
    req.log.warn({ errName: err.name, url: req.url.split('?')[0] }, 'database unavailable');
    const unavailable = new DatabaseUnavailableError();
    void reply
      .code(503)
      .header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS))
      .send({ error: { code: unavailable.code, message: unavailable.message } });
    return;
  }
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
  if (status >= 500) {
    req.log.error({ err }, 'request failed');
    void reply.code(status).send({ error: { code: 'INTERNAL', message: 'internal error' } });
    return;
  }
  const code = err.validation ? 'BAD_REQUEST' : (err.code ?? 'BAD_REQUEST');
  void reply.code(status).send({ error: { code, message: err.message } });
}
