import type { FastifyReply, FastifyRequest } from 'fastify';
import { secretsEqual } from '../../crypto/hash.js';

/**
 * `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time (both sides hashed first, so
 * neither content nor length leaks). Anything else is a 401 before the route runs.
 */
export function bearerToken(header: string | undefined): string | undefined {
  return typeof header === 'string' ? /^Bearer[ ]+(\S+)\s*$/i.exec(header)?.[1] : undefined;
}

export function bearerAuth(adminToken: string) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const presented = bearerToken(req.headers.authorization);
    if (presented && secretsEqual(presented, adminToken)) return;
    req.log.info({ remoteAddress: req.ip, url: req.url.split('?')[0] }, 'admin request without a valid token');
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer')
      .send({ error: { code: 'UNAUTHORIZED', message: 'a valid admin bearer token is required' } });
  };
}
