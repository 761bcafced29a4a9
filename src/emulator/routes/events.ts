// Calendar API v3 events endpoints, at the paths googleapis calls.

import type { FastifyInstance } from 'fastify';
import type { Event } from '../event-model.js';
import { listEvents, parseListQuery } from '../listing.js';
import type { EmulatorState } from '../state.js';
import { guard, requireObject } from './guard.js';

type CalParams = { calendarId: string };
type EventParams = { calendarId: string; eventId: string };
type RawQuery = Record<string, string | string[] | undefined>;

const BASE = '/calendar/v3/calendars/:calendarId/events';

export function eventRoutes(app: FastifyInstance, state: EmulatorState): void {
  const { store } = state;

  app.get<{ Params: CalParams; Querystring: RawQuery }>(BASE, async (req) => {
    await guard(state, 'events.list', req);
    const q = parseListQuery(req.query);
    return listEvents(store, req.params.calendarId, q, state.paging);
  });

  app.post<{ Params: CalParams }>(BASE, async (req) => {
    await guard(state, 'events.insert', req);
    return store.insert(req.params.calendarId, requireObject(req.body) as Event);
  });

  app.get<{ Params: EventParams }>(`${BASE}/:eventId`, async (req) => {
    await guard(state, 'events.get', req);
    return store.get(req.params.calendarId, req.params.eventId);
  });

  app.patch<{ Params: EventParams }>(`${BASE}/:eventId`, async (req) => {
    await guard(state, 'events.patch', req);
    return store.patch(req.params.calendarId, req.params.eventId, requireObject(req.body) as Event);
  });

  app.put<{ Params: EventParams }>(`${BASE}/:eventId`, async (req) => {
    await guard(state, 'events.update', req);
    return store.update(req.params.calendarId, req.params.eventId, requireObject(req.body) as Event);
  });

  app.delete<{ Params: EventParams }>(`${BASE}/:eventId`, async (req, reply) => {
    await guard(state, 'events.delete', req);
    store.delete(req.params.calendarId, req.params.eventId);
    return reply.code(204).send();
  });
}
