import fastifyBasicAuth from '@fastify/basic-auth';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { secretsEqual } from '../../crypto/hash.js';
import { registerBearerVerifier, requireAdmin } from '../admin/auth.js';

export const DASHBOARD_CHALLENGE = 'Basic realm="calsync dashboard", charset="UTF-8"';

class WrongPassword extends Error {
  readonly statusCode = 401;
}

/**
 * The dashboard accepts the admin token as a Bearer token (scripts) or as the Basic-auth password
 * (a browser prompts for it; the user name is ignored), both parsed by Fastify's plugins and compared
 * in constant time. The token never travels in a URL, where logs and history would keep it.
 */
export async function protectDashboard(dash: FastifyInstance, adminToken: string): Promise<void> {
  await registerBearerVerifier(dash, adminToken);
  await dash.register(fastifyBasicAuth, {
    validate: async (_user: string, password: string) => {
      if (!secretsEqual(password, adminToken)) throw new WrongPassword('wrong password');
    },
    utf8: true,
  });
  const isBearer = (req: FastifyRequest) => /^\s*bearer\s/i.test(req.headers.authorization ?? '');
  dash.addHook(
    'onRequest',
    requireAdmin((req) => (isBearer(req) ? dash.verifyBearerAuth! : dash.basicAuth), DASHBOARD_CHALLENGE, 'the admin token is required (Basic auth password or Bearer)'),
  );
}
