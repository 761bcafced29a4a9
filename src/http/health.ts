import type { FastifyPluginAsync } from 'fastify';
import type { Connection } from 'mongoose';
import { databaseAnswers } from '../db/connect.js';

export interface HealthRoutesOptions {
  conn: Connection;
}

/** Liveness says the process runs; readiness says it can do its job (the database answers). */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { conn }) => {
  const statusReply = {
    type: 'object',
    properties: { status: { type: 'string' }, reason: { type: 'string' } },
    required: ['status'],
  } as const;

  app.get('/healthz', { schema: { response: { 200: statusReply } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { response: { 200: statusReply, 503: statusReply } } }, async (_req, reply) => {
    if (await databaseAnswers(conn)) return { status: 'ready' };
    return reply.code(503).send({ status: 'unavailable', reason: 'database does not answer' });
  });
};
