import type { FastifyPluginAsync } from 'fastify';
import type { Connection } from 'mongoose';
import { databaseAnswers } from '../db/connect.js';

export interface HealthRoutesOptions {
  conn: Connection;
  /** True once the process is shutting down (see src/server.ts): it should get no new traffic. */
  draining: () => boolean;
}

/**
 * Liveness says the process runs; readiness says it can do its job (the database answers) and is
 * not on its way out.
 */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { conn, draining }) => {
  const statusReply = {
    type: 'object',
    properties: { status: { type: 'string' }, reason: { type: 'string' } },
    required: ['status'],
  } as const;

  app.get('/healthz', { schema: { response: { 200: statusReply } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { response: { 200: statusReply, 503: statusReply } } }, async (_req, reply) => {
    if (draining()) return reply.code(503).send({ status: 'draining', reason: 'shutting down' });
    if (await databaseAnswers(conn)) return { status: 'ready' };
    return reply.code(503).send({ status: 'unavailable', reason: 'database does not answer' });
  });
};
