// Google's authorization endpoint (GET /o/oauth2/v2/auth) with automatic consent, and the
// authorization-code grant of POST /token. Consent is given by the emulator's consenting user
// (PUT /emulator/consent), or refused with `error=access_denied` when the deny switch is on.

import type { FastifyInstance, FastifyReply } from 'fastify';
import type { EmulatorState } from '../state.js';
import { idToken } from '../identity.js';

type Query = Record<string, string | undefined>;

/** A plain 400 page, as Google shows for a request it cannot redirect back (bad client or URI). */
function badRequest(reply: FastifyReply, message: string) {
  return reply.code(400).type('text/plain; charset=utf-8').send(`400. That's an error.\n\nError: invalid_request\n${message}`);
}

export function authorizeRoutes(app: FastifyInstance, state: EmulatorState): void {
  app.get('/o/oauth2/v2/auth', async (req, reply) => {
    state.count('oauth.authorize', req.raw);
    const q = req.query as Query;
    if (!q.client_id) return badRequest(reply, 'Missing required parameter: client_id');
    let redirect: URL;
    try {
      redirect = new URL(q.redirect_uri ?? '');
    } catch {
      return badRequest(reply, 'Missing or invalid parameter: redirect_uri');
    }
    if (q.response_type !== 'code') return badRequest(reply, `Unsupported response_type: ${q.response_type ?? '(missing)'}`);
    if (!q.scope) return badRequest(reply, 'Missing required parameter: scope');
    // calsync always sends PKCE; the emulator insists so a client that forgets it fails in tests.
    if (!q.code_challenge || q.code_challenge_method !== 'S256') return badRequest(reply, 'code_challenge with code_challenge_method=S256 is required');
    const code = state.identity.consent({ clientId: q.client_id, redirectUri: redirect.toString(), challenge: q.code_challenge, scope: q.scope });
    if (code === undefined) redirect.searchParams.set('error', 'access_denied');
    else {
      redirect.searchParams.set('code', code);
      redirect.searchParams.set('scope', q.scope);
    }
    if (q.state !== undefined) redirect.searchParams.set('state', q.state);
    return reply.redirect(redirect.toString(), 302);
  });
}

/** POST /token with grant_type=authorization_code (called by routes/oauth.ts). */
export function exchangeCode(state: EmulatorState, body: Record<string, unknown>, reply: FastifyReply) {
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const code = str(body.code);
  if (!code) return reply.code(400).send({ error: 'invalid_request', error_description: 'Missing required parameter: code' });
  const redirectUri = str(body.redirect_uri);
  const result = state.identity.exchange({
    code,
    verifier: str(body.code_verifier),
    clientId: str(body.client_id),
    redirectUri: redirectUri === undefined ? undefined : URL.canParse(redirectUri) ? new URL(redirectUri).toString() : redirectUri,
  });
  if (!result.ok) return reply.code(400).send({ error: result.error, error_description: result.description });
  const access = state.auth.grant(result.refreshToken)!;
  return reply.header('cache-control', 'no-store').send({
    ...access,
    scope: result.scope,
    refresh_token: result.refreshToken,
    id_token: idToken({ iss: 'https://accounts.google.com', aud: result.clientId, sub: result.sub, email: result.email, iat: Math.floor(state.now() / 1000) }),
  });
}
