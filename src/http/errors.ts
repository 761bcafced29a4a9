import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/**
 * One error handler: client errors keep their message, server errors never leak theirs. Every body
 * has a stable `code` a client can branch on.
 */
export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
  if (status >= 500) {
    req.log.error({ err }, 'request failed');
    void reply.code(status).send({ error: { code: 'INTERNAL', message: 'internal error' } });
    return;
  }
  const code = err.validation ? 'BAD_REQUEST' : (err.code ?? 'BAD_REQUEST');
  void reply.code(status).send({ error: { code, message: err.message } });
}
