import type { FastifyReply, FastifyRequest } from 'fastify';
import { WEBHOOK_PATH } from '../channels/channel-token.js';
import type { WebhookMetrics } from '../webhook/metrics.js';
import { secretsEqual } from '../crypto/hash.js';
import { unauthorized } from './admin/auth.js';

export interface NotFoundOptions {
  adminToken: string;
  webhookMetrics: WebhookMetrics;
}

const isAdminPath = (path: string): boolean => {
  const p = path.toLowerCase();
  return p === '/admin' || p.startsWith('/admin/');
};

/**
 * What no route matched. Under /admin the caller must prove the admin token first (401), so only an
 * authorised caller learns which admin paths exist (404). The webhook path with a method Fastify
 * does not route (PROPFIND, REPORT, …) is a 405 like any other non-POST.
 */
export function notFoundHandler({ adminToken, webhookMetrics }: NotFoundOptions) {
  // Paths the /admin scope (whose own hook and not-found handler guard /admin/…) does not capture,
  // such as another spelling of the prefix: the same rule, 401 unless the token is right.
  const hasAdminToken = (req: FastifyRequest): boolean => {
    const m = /^bearer (\S+)$/i.exec(req.headers.authorization ?? '');
    return m?.[1] !== undefined && secretsEqual(m[1], adminToken);
  };
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const path = req.url.split('?')[0] ?? '';
    if (path === WEBHOOK_PATH) {
      webhookMetrics.rejected('method_not_allowed');
      return reply.code(405).header('allow', 'POST').send({ error: { code: 'METHOD_NOT_ALLOWED', message: 'use POST' } });
    }
    if (isAdminPath(path) && !hasAdminToken(req)) return unauthorized(reply, 'Bearer', 'a valid admin bearer token is required');
    return reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'no such route' } });
  };
}
