// calendarList.list and calendarList.watch for the user behind the bearer token.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EmulatorState } from '../state.js';
import type { Calendar } from '../store.js';
import type { WatchBody } from '../channels.js';
import { calendarListKey, listCalendarList } from '../calendar-list.js';
import { errors } from '../errors.js';
import { guard, requireObject } from './guard.js';

function caller(state: EmulatorState, req: FastifyRequest) {
  const token = state.auth.caller(req.headers.authorization);
  const user = token === undefined ? undefined : state.identity.userOfToken(token);
  // A refresh token added with POST /emulator/accounts has no Google user: its list is empty.
  return user ?? { sub: `anonymous`, email: '', entries: new Map(), seq: 0 };
}

export function calendarListRoutes(app: FastifyInstance, state: EmulatorState): void {
  app.get('/calendar/v3/users/me/calendarList', async (req) => {
    await guard(state, 'calendarList.list', req);
    return listCalendarList(state.store, caller(state, req), req.query as Record<string, unknown>);
  });

  app.post('/calendar/v3/users/me/calendarList/watch', async (req) => {
    await guard(state, 'calendarList.watch', req);
    const user = caller(state, req);
    if (user.sub === 'anonymous') throw errors.notFound();
    const body = requireObject(req.body) as WatchBody;
    // Channels fan out by a calendar key; the user's list is watched under its own key.
    const resource = { id: calendarListKey(user.sub), resourceId: `cl-${user.sub}` } as Calendar;
    const ch = state.channels.create(resource, body, state.baseUrl);
    ch.resourceUri = `${state.baseUrl}/calendar/v3/users/me/calendarList?alt=json`;
    state.pings.announce(ch);
    return { kind: 'api#channel', id: ch.id, resourceId: ch.resourceId, resourceUri: ch.resourceUri, ...(ch.token === undefined ? {} : { token: ch.token }), expiration: String(ch.expiration) };
  });
}
