// POST /token: the OAuth 2.0 token endpoint for the refresh-token grant, answering in
// Google's OAuth error format (which differs from the API error format).

import type { FastifyInstance } from 'fastify';
import { userLabel } from '../quota.js';
import type { EmulatorState } from '../state.js';
import { exchangeCode } from './authorize.js';

const OAUTH_ERROR_BY_STATUS: Record<number, string> = { 400: 'invalid_request', 401: 'invalid_client', 403: 'access_denied', 429: 'rate_limit_exceeded' };

export function oauthRoutes(app: FastifyInstance, state: EmulatorState): void {
  app.post('/token', async (req, reply) => {
    const record = state.count('token', req.raw);
    const fault = await state.faults.apply('token');
    if (fault) {
      return reply.code(fault.status).headers(fault.headers).send({
        error: fault.status >= 500 ? 'internal_failure' : (fault.item.reason in OAUTH_REASONS ? fault.item.reason : OAUTH_ERROR_BY_STATUS[fault.status] ?? 'invalid_request'),
        error_description: fault.item.message,
      });
    }
    const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, unknown>;
    if (body.grant_type === 'authorization_code') return exchangeCode(state, body, reply);
    if (body.grant_type !== 'refresh_token') {
      return reply.code(400).send({ error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${String(body.grant_type ?? '')}` });
    }
    if (typeof body.refresh_token !== 'string' || body.refresh_token === '') {
      return reply.code(400).send({ error: 'invalid_request', error_description: 'Missing required parameter: refresh_token' });
    }
    record.user = userLabel(body.refresh_token);
    const grant = state.auth.grant(body.refresh_token);
    if (!grant) return reply.code(400).send({ error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
    return reply.header('cache-control', 'no-store').send(grant);
  });
}

// Reasons that are themselves OAuth error codes, so a fault can say e.g. reason "invalid_grant".
const OAUTH_REASONS: Record<string, true> = {
  invalid_grant: true, invalid_client: true, invalid_request: true, unauthorized_client: true, access_denied: true,
};
