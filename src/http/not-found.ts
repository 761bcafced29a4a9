import type { FastifyReply, FastifyRequest } from 'fastify';
import { WEBHOOK_PATH } from '../channels/channel-token.js';
import type { WebhookMetrics } from '../webhook/metrics.js';
import { bearerAuth } from './admin/auth.js';

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
  const adminAuth = bearerAuth(adminToken);
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const path = req.url.split('?')[0] ?? '';
    if (path === WEBHOOK_PATH) {
      webhookMetrics.rejected('method_not_allowed');
      return reply.code(405).header('allow', 'POST').send({ error: { code: 'METHOD_NOT_ALLOWED', message: 'use POST' } });
    }
    if (isAdminPath(path)) {
      await adminAuth(req, reply);
      if (reply.sent) return reply;
    }
    return reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'no such route' } });
  };
}
