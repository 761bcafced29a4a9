import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CalendarRegistry } from '../../calendars/calendar-registry.js';
import type { CalendarState as State, CalendarViews } from '../../calendars/calendar-views.js';
import { toHttpError, HttpError } from './errors.js';
import {
  CalendarSettingsBody,
  CalendarsPage,
  CalendarsQuery,
  CalendarState,
  CreateCalendarBody,
  Deleted,
  ErrorReply,
  EventsPage,
  EventsQuery,
  IdParams,
  RegisteredCalendar,
  SyncAccepted,
  SyncBody,
} from './schemas.js';

export interface CalendarRoutesOptions {
  registry: CalendarRegistry;
  views: CalendarViews;
}

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

function stateJson(s: State) {
  return {
    ...s,
    lastSyncedAt: iso(s.lastSyncedAt),
    lastFullSyncAt: iso(s.lastFullSyncAt),
    lastError: s.lastError ? { ...s.lastError, at: iso(s.lastError.at) } : null,
    channel: s.channel ? { ...s.channel, expiration: iso(s.channel.expiration), lastPingAt: iso(s.channel.lastPingAt) } : null,
  };
}

const errors = { 400: ErrorReply, 401: ErrorReply, 404: ErrorReply, 409: ErrorReply };

/** Calendars: register (full sync + watch), inspect sync state, ask for a sync, read the mirror, remove. */
export const calendarRoutes: FastifyPluginAsyncTypebox<CalendarRoutesOptions> = async (app, { registry, views }) => {
  const mapped = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      throw toHttpError(err);
    }
  };

  app.post('/calendars', { schema: { body: CreateCalendarBody, response: { 201: RegisteredCalendar, ...errors } } }, async (req, reply) => {
    const cal = await mapped(() => registry.register(req.body.accountId.toLowerCase(), req.body.googleCalendarId));
    const ch = cal.channel;
    const channel =
      ch.outcome === 'opened' || ch.outcome === 'current'
        ? { outcome: ch.outcome, id: ch.channelId, expiration: iso(ch.expiration) }
        : ch.outcome === 'failed'
          ? { outcome: ch.outcome, error: ch.error }
          : { outcome: ch.outcome };
    req.log.info({ calendarId: cal.id, mode: cal.mode, channel: ch.outcome }, 'calendar registered');
    return reply.code(201).send({ ...cal, channel, sync: 'requested' as const });
  });

  app.get('/calendars', { schema: { querystring: CalendarsQuery, response: { 200: CalendarsPage, 400: ErrorReply, 401: ErrorReply } } }, async (req) => {
    const page = await mapped(() => views.page(req.query));
    return { calendars: page.calendars.map(stateJson), nextCursor: page.nextCursor };
  });

  app.get('/calendars/:id', { schema: { params: IdParams, response: { 200: CalendarState, ...errors } } }, async (req) => {
    const state = await views.get(req.params.id);
    if (!state) throw new HttpError(404, 'CALENDAR_NOT_FOUND', 'calendar not found');
    return stateJson(state);
  });

  app.patch(
    '/calendars/:id',
    { schema: { params: IdParams, body: CalendarSettingsBody, response: { 200: CalendarState, ...errors } } },
    async (req) => {
      await mapped(() => registry.setIncrementalEnabled(req.params.id, req.body.incrementalEnabled));
      req.log.info({ calendarId: req.params.id, incrementalEnabled: req.body.incrementalEnabled }, 'calendar settings changed');
      const state = await views.get(req.params.id);
      if (!state) throw new HttpError(404, 'CALENDAR_NOT_FOUND', 'calendar not found');
      return stateJson(state);
    },
  );

  app.post(
    '/calendars/:id/sync',
    { schema: { params: IdParams, body: SyncBody, response: { 202: SyncAccepted, ...errors } } },
    async (req, reply) => {
      await mapped(() => registry.requestSync(req.params.id, req.body.mode));
      return reply.code(202).send({ id: req.params.id, mode: req.body.mode, status: 'requested' as const });
    },
  );

  app.get(
    '/calendars/:id/events',
    { schema: { params: IdParams, querystring: EventsQuery, response: { 200: EventsPage, ...errors } } },
    async (req) => {
      if (!(await registry.exists(req.params.id))) throw new HttpError(404, 'CALENDAR_NOT_FOUND', 'calendar not found');
      const page = await mapped(() => views.events(req.params.id, req.query.limit, req.query.cursor));
      return { ...page, events: page.events.map((e) => ({ ...e, updated: iso(e.updated) })) };
    },
  );

  app.delete('/calendars/:id', { schema: { params: IdParams, response: { 200: Deleted, ...errors } } }, async (req) => {
    const r = await mapped(() => registry.remove(req.params.id));
    req.log.info({ calendarId: req.params.id, ...r }, 'calendar removed');
    return { id: req.params.id, deleted: true as const, ...r };
  });
};
