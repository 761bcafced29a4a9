// Calendar API v3 events endpoints, at the paths googleapis calls. Every answer honours
// `fields` (partial responses); get and the writes honour the version-resources guide's
// conditional headers (If-None-Match → 304, stale If-Match → 412 conditionNotMet).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../errors.js';
import type { Event } from '../event-model.js';
import { listEvents, parseListQuery } from '../listing.js';
import { applyFields } from '../partial-response.js';
import type { EmulatorState } from '../state.js';
import { guard, requireObject } from './guard.js';

type CalParams = { calendarId: string };
type EventParams = { calendarId: string; eventId: string };
type RawQuery = Record<string, string | string[] | undefined>;

const BASE = '/calendar/v3/calendars/:calendarId/events';

/** The etags an If-Match / If-None-Match header names ("*" matches any). */
function etagsIn(header: string | string[] | undefined): string[] | undefined {
  if (header === undefined) return undefined;
  const raw = Array.isArray(header) ? header.join(',') : header;
  return raw.split(',').map((s) => s.trim().replace(/^W\//, '')).filter(Boolean);
}

const matches = (etags: string[], etag: string | null | undefined): boolean => etags.includes('*') || (etag != null && etags.includes(etag));

export function eventRoutes(app: FastifyInstance, state: EmulatorState): void {
  const { store } = state;
  const fields = (req: FastifyRequest) => (req.query as RawQuery).fields;

  /** A write with If-Match applies only while the event still has one of the named etags. */
  const precondition = (req: FastifyRequest<{ Params: EventParams }>): void => {
    const ifMatch = etagsIn(req.headers['if-match']);
    if (ifMatch && !matches(ifMatch, store.get(req.params.calendarId, req.params.eventId).etag)) throw errors.conditionNotMet();
  };

  app.get<{ Params: CalParams; Querystring: RawQuery }>(BASE, async (req) => {
    await guard(state, 'events.list', req);
    const q = parseListQuery(req.query);
    const body = listEvents(store, req.params.calendarId, q, { paging: state.paging, limits: state.limits, now: state.now() });
    return applyFields(body, req.query.fields);
  });

  app.post<{ Params: CalParams }>(BASE, async (req) => {
    await guard(state, 'events.insert', req);
    return applyFields(store.insert(req.params.calendarId, requireObject(req.body) as Event), fields(req));
  });

  app.get<{ Params: EventParams }>(`${BASE}/:eventId`, async (req, reply: FastifyReply) => {
    await guard(state, 'events.get', req);
    const ev = store.get(req.params.calendarId, req.params.eventId);
    const ifNoneMatch = etagsIn(req.headers['if-none-match']);
    if (ifNoneMatch && matches(ifNoneMatch, ev.etag)) return reply.code(304).header('etag', ev.etag).send();
    return reply.header('etag', ev.etag).send(applyFields(ev, fields(req)));
  });

  app.patch<{ Params: EventParams }>(`${BASE}/:eventId`, async (req) => {
    await guard(state, 'events.patch', req);
    precondition(req);
    return applyFields(store.patch(req.params.calendarId, req.params.eventId, requireObject(req.body) as Event), fields(req));
  });

  app.put<{ Params: EventParams }>(`${BASE}/:eventId`, async (req) => {
    await guard(state, 'events.update', req);
    precondition(req);
    return applyFields(store.update(req.params.calendarId, req.params.eventId, requireObject(req.body) as Event), fields(req));
  });

  app.delete<{ Params: EventParams }>(`${BASE}/:eventId`, async (req, reply) => {
    await guard(state, 'events.delete', req);
    precondition(req);
    store.delete(req.params.calendarId, req.params.eventId);
    return reply.code(204).send();
  });
}
