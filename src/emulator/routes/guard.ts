// What every Calendar API call goes through before its handler, in Google's order: it is
// counted and logged, its bearer token checked (401), its quota charged (403/429 rate limit),
// then injected faults applied.

import type { FastifyRequest } from 'fastify';
import { GoogleApiError, errors } from '../errors.js';
import { userLabel } from '../quota.js';
import type { EmulatorState } from '../state.js';

export async function guard(state: EmulatorState, method: string, req: FastifyRequest): Promise<void> {
  const record = state.count(method, req.raw);
  const caller = state.auth.caller(req.headers.authorization);
  if (caller === undefined) {
    const e = errors.authError();
    throw new GoogleApiError(e.status, e.item, { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' });
  }
  record.user = userLabel(caller);
  const limited = state.quota.admit(caller);
  if (limited) throw limited;
  const fault = await state.faults.apply(method);
  if (fault) throw fault;
}

export function requireObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw errors.parseError();
  return body as Record<string, unknown>;
}
