// The control API under /emulator/… (contract: DESIGN.md §7). Tests, benchmarks and `npm run
// dev` drive the emulator's world through it; every body has a schema and bad ones get 400.

import type { FastifyInstance } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errors } from '../errors.js';
import type { Event } from '../event-model.js';
import { listAll } from '../listing.js';
import { userLabel } from '../quota.js';
import type { EmulatorState } from '../state.js';
import { isValidTimeZone } from '../time.js';

const Rate = Type.Number({ minimum: 0, maximum: 1 });

const AccountBody = Type.Object({ refreshToken: Type.String({ minLength: 1 }) }, { additionalProperties: false });
const CalendarBody = Type.Object(
  { id: Type.String({ minLength: 1 }), summary: Type.Optional(Type.String()), timeZone: Type.Optional(Type.String({ minLength: 1 })) },
  { additionalProperties: false },
);
const CalendarParams = Type.Object({ calendarId: Type.String({ minLength: 1 }) });
const BulkBody = Type.Object({ events: Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 100_000 }) }, { additionalProperties: false });
const EventsQuery = Type.Object(
  {
    singleEvents: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
    timeMin: Type.Optional(Type.String()),
    timeMax: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
const FaultBody = Type.Object(
  {
    method: Type.String({ minLength: 1 }),
    status: Type.Optional(Type.Integer({ minimum: 400, maximum: 599 })),
    reason: Type.Optional(Type.String({ minLength: 1 })),
    message: Type.Optional(Type.String({ minLength: 1 })),
    count: Type.Optional(Type.Integer({ minimum: 1 })),
    rate: Type.Optional(Rate),
    latencyMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
    retryAfter: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
const PingsBody = Type.Object(
  {
    dropRate: Type.Optional(Rate),
    duplicateRate: Type.Optional(Rate),
    retryInitialDelayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000 })),
  },
  { additionalProperties: false },
);
const PagingBody = Type.Object(
  {
    maxPageSize: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 2500 }), Type.Null()])),
    emptyPageRate: Type.Optional(Rate),
  },
  { additionalProperties: false },
);
const QuotaBody = Type.Object(
  {
    perUserPerMinute: Type.Optional(Type.Integer({ minimum: 1 })),
    perProjectPerMinute: Type.Optional(Type.Integer({ minimum: 1 })),
    windowMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000 })),
    status: Type.Optional(Type.Union([Type.Literal(403), Type.Literal(429)])),
  },
  { additionalProperties: false },
);
const CallsQuery = Type.Object(
  {
    since: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
    user: Type.Optional(Type.String({ minLength: 1 })),
    method: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
const Ms = Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]);
const LimitsBody = Type.Object(
  { syncTokenIdleMs: Type.Optional(Ms), updatedMinMaxAgeMs: Type.Optional(Ms) },
  { additionalProperties: false },
);
const ClockBody = Type.Object({ advanceMs: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });

export function controlRoutes(app: FastifyInstance, state: EmulatorState): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post('/emulator/reset', async (_req, reply) => {
    state.reset();
    return reply.code(204).send();
  });

  // Secrets are accepted, never echoed back: `user` is the opaque label the call log uses.
  r.post('/emulator/accounts', { schema: { body: AccountBody } }, async (req, reply) => {
    state.auth.addAccount(req.body.refreshToken);
    return reply.code(201).send({ user: userLabel(req.body.refreshToken) });
  });

  r.post('/emulator/accounts/revoke', { schema: { body: AccountBody } }, async (req, reply) => {
    state.auth.revoke(req.body.refreshToken);
    return reply.code(204).send();
  });

  r.post('/emulator/calendars', { schema: { body: CalendarBody } }, async (req, reply) => {
    if (req.body.timeZone !== undefined && !isValidTimeZone(req.body.timeZone)) throw errors.invalid('Invalid time zone.');
    const cal = state.store.createCalendar(req.body.id, req.body);
    return reply.code(201).send({ id: cal.id, summary: cal.summary, timeZone: cal.timeZone });
  });

  r.post('/emulator/calendars/:calendarId/invalidate-sync-tokens', { schema: { params: CalendarParams } }, async (req, reply) => {
    state.store.invalidateSyncTokens(req.params.calendarId);
    return reply.code(204).send();
  });

  // "::" escapes the colon: the path is literally …/events:bulk.
  r.post('/emulator/calendars/:calendarId/events::bulk', { schema: { params: CalendarParams, body: BulkBody } }, async (req, reply) => {
    const items = state.store.insertMany(req.params.calendarId, req.body.events as Event[]);
    return reply.code(201).send({ count: items.length, ids: items.map((e) => e.id) });
  });

  r.get('/emulator/calendars/:calendarId/events', { schema: { params: CalendarParams, querystring: EventsQuery } }, async (req) => {
    const { singleEvents, timeMin, timeMax } = req.query;
    return { items: listAll(state.store, req.params.calendarId, { singleEvents: singleEvents === 'true', timeMin, timeMax }) };
  });

  r.post('/emulator/faults', { schema: { body: FaultBody } }, async (req, reply) => {
    if (req.body.status === undefined && req.body.latencyMs === undefined) {
      throw errors.invalid('A fault needs a status, a latencyMs, or both.');
    }
    state.faults.add(req.body);
    return reply.code(201).send({ faults: state.faults.list() });
  });

  r.get('/emulator/faults', async () => ({ faults: state.faults.list() }));

  r.delete('/emulator/faults', async (_req, reply) => {
    state.faults.clear();
    return reply.code(204).send();
  });

  r.put('/emulator/pings', { schema: { body: PingsBody } }, async (req) => {
    state.pings.settings = { ...state.pings.settings, ...req.body };
    return state.pings.settings;
  });

  r.post('/emulator/pings/flush', async (_req, reply) => {
    await state.pings.flush();
    return reply.code(204).send();
  });

  r.put('/emulator/paging', { schema: { body: PagingBody } }, async (req) => {
    const { maxPageSize, emptyPageRate } = req.body;
    if (maxPageSize !== undefined) state.paging.maxPageSize = maxPageSize ?? undefined;
    if (emptyPageRate !== undefined) state.paging.emptyPageRate = emptyPageRate;
    return state.paging;
  });

  r.get('/emulator/clock', async () => ({ now: state.now(), offsetMs: state.clockOffsetMs }));

  r.post('/emulator/clock', { schema: { body: ClockBody } }, async (req) => {
    state.clockOffsetMs += req.body.advanceMs;
    return { now: state.now(), offsetMs: state.clockOffsetMs };
  });

  // null lifts a limit; the answer shows null for "no limit".
  r.put('/emulator/limits', { schema: { body: LimitsBody } }, async (req) => {
    for (const key of ['syncTokenIdleMs', 'updatedMinMaxAgeMs'] as const) {
      const v = req.body[key];
      if (v !== undefined) state.limits[key] = v ?? undefined;
    }
    return limitsView(state);
  });

  r.get('/emulator/limits', async () => limitsView(state));

  r.put('/emulator/quota', { schema: { body: QuotaBody } }, async (req) => state.quota.set(req.body));

  r.get('/emulator/quota', async () => ({ quota: state.quota.settings ?? null }));

  r.delete('/emulator/quota', async (_req, reply) => {
    state.quota.off();
    return reply.code(204).send();
  });

  r.get('/emulator/calls', { schema: { querystring: CallsQuery } }, async (req) => {
    const { since, user, method } = req.query;
    const calls = state.callLog.since(since === undefined ? 0 : Number(since));
    return { calls: calls.filter((c) => (user === undefined || c.user === user) && (method === undefined || c.method === method)) };
  });

  r.get('/emulator/stats', async () => ({ calls: state.stats(), pings: { ...state.pings.stats } }));

  // Channel tokens are secrets calsync verifies pings with: kept out of HTTP output.
  r.get('/emulator/channels', async () =>
    state.channels.list().map(({ id, resourceId, address, expiration, stopped, calendarId }) => ({
      id, resourceId, address, expiration, stopped, calendarId,
    })));
}

function limitsView(state: EmulatorState): { syncTokenIdleMs: number | null; updatedMinMaxAgeMs: number | null } {
  return { syncTokenIdleMs: state.limits.syncTokenIdleMs ?? null, updatedMinMaxAgeMs: state.limits.updatedMinMaxAgeMs ?? null };
}
