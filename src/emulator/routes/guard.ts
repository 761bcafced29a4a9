// What every Calendar API call goes through before its handler, in Google's order: it is
// counted, its bearer token checked (401), then injected faults applied.

import type { FastifyRequest } from 'fastify';
import { GoogleApiError, errors } from '../errors.js';
import type { EmulatorState } from '../state.js';

export async function guard(state: EmulatorState, method: string, req: FastifyRequest): Promise<void> {
  state.count(method);
  if (!state.auth.verify(req.headers.authorization)) {
    const e = errors.authError();
    throw new GoogleApiError(e.status, e.item, { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' });
  }
  const fault = await state.faults.apply(method);
  if (fault) throw fault;
}

export function requireObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw errors.parseError();
  return body as Record<string, unknown>;
}
