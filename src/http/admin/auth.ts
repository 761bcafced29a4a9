import fastifyBearerAuth from '@fastify/bearer-auth';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { secretsEqual } from '../../crypto/hash.js';

/**
 * Admin authentication. @fastify/bearer-auth parses `Authorization: Bearer <token>`; the token is
 * compared with ADMIN_TOKEN in constant time (both sides hashed first, so neither content nor length
 * leaks). Anything else is a 401 with the API's error shape before the route (or the 404) runs.
 */

type Verify = (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void;

/** Decorates `instance` (an encapsulated context) with `verifyBearerAuth` for the admin token. */
export async function registerBearerVerifier(instance: FastifyInstance, adminToken: string): Promise<void> {
  await instance.register(fastifyBearerAuth, {
    keys: [],
    addHook: false,
    auth: (key: string) => secretsEqual(key, adminToken),
    // Case-insensitive scheme, as clients send both `Bearer` and `bearer`.
    specCompliance: 'rfc6749',
    // The 401 is logged once below, with the path; the plugin's own line would repeat it.
    verifyErrorLogLevel: 'debug',
  });
}

export function unauthorized(reply: FastifyReply, challenge: string, message: string): FastifyReply {
  return reply.code(401).header('www-authenticate', challenge).send({ error: { code: 'UNAUTHORIZED', message } });
}

/**
 * An onRequest hook that lets a request through when `pick(req)` verifies it, and answers 401 with
 * `challenge` otherwise. Being onRequest, it also guards the context's not-found handler, so an
 * unknown path under a protected prefix says 401, not 404, to a caller without the token.
 */
export function requireAdmin(pick: (req: FastifyRequest) => Verify, challenge: string, message: string) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const verify = pick(req);
    const failure = await new Promise<Error | undefined>((resolve) => verify(req, reply, (err?: Error) => resolve(err)));
    if (!failure) return;
    req.log.info({ remoteAddress: req.ip, url: req.url.split('?')[0] }, 'admin request without a valid token');
    await unauthorized(reply, challenge, message);
  };
}
