// events.watch and channels.stop.

import type { FastifyInstance } from 'fastify';
import type { WatchBody } from '../channels.js';
import type { EmulatorState } from '../state.js';
import { applyFields } from '../partial-response.js';
import { guard, requireObject } from './guard.js';

export function channelRoutes(app: FastifyInstance, state: EmulatorState): void {
  app.post<{ Params: { calendarId: string } }>('/calendar/v3/calendars/:calendarId/events/watch', async (req) => {
    await guard(state, 'events.watch', req);
    const body = requireObject(req.body) as WatchBody;
    const cal = state.store.calendar(req.params.calendarId);
    const ch = state.channels.create(cal, body, state.baseUrl);
    state.pings.announce(ch);
    return applyFields({
      kind: 'api#channel',
      id: ch.id,
      resourceId: ch.resourceId,
      resourceUri: ch.resourceUri,
      ...(ch.token === undefined ? {} : { token: ch.token }),
      // Google sends int64 as a JSON string.
      expiration: String(ch.expiration),
    }, (req.query as Record<string, unknown>).fields);
  });

  app.post('/calendar/v3/channels/stop', async (req, reply) => {
    await guard(state, 'channels.stop', req);
    const body = requireObject(req.body);
    state.channels.stop(body.id, body.resourceId);
    return reply.code(204).send();
  });
}
