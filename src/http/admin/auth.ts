import type { FastifyReply, FastifyRequest } from 'fastify';
import { secretsEqual } from '../../crypto/hash.js';

/**
 * `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time (both sides hashed first, so
 * neither content nor length leaks). Anything else is a 401 before the route runs.
 */
export function bearerAuth(adminToken: string) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null;
    const presented = match?.[1];
    if (presented && secretsEqual(presented, adminToken)) return;
    req.log.info({ remoteAddress: req.ip, url: req.url.split('?')[0] }, 'admin request without a valid token');
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer')
      .send({ error: { code: 'UNAUTHORIZED', message: 'a valid admin bearer token is required' } });
  };
}
