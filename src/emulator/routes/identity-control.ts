// Control API for Google users (DESIGN.md §7 additions): who exists, what their calendar lists
// hold, who consents at the authorization endpoint (or that consent is denied), and revocation.

import type { FastifyInstance } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ACCESS_ROLES, UnknownUserError } from '../identity.js';
import type { EmulatorState } from '../state.js';

const Role = Type.Union(ACCESS_ROLES.map((r) => Type.Literal(r)));
const Entry = Type.Object(
  { accessRole: Type.Optional(Role), primary: Type.Optional(Type.Boolean()), summary: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
const UserBody = Type.Object(
  {
    email: Type.String({ minLength: 3 }),
    sub: Type.Optional(Type.String({ pattern: '^[0-9]{1,64}$' })),
    calendars: Type.Optional(Type.Array(Type.Intersect([Type.Object({ id: Type.String({ minLength: 1 }) }), Entry]), { maxItems: 1000 })),
  },
  { additionalProperties: false },
);
const UserParams = Type.Object({ sub: Type.String({ minLength: 1 }) });
const EntryParams = Type.Object({ sub: Type.String({ minLength: 1 }), calendarId: Type.String({ minLength: 1 }) });
const ConsentBody = Type.Object(
  { user: Type.Optional(Type.String({ minLength: 1 })), deny: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

export function identityControlRoutes(app: FastifyInstance, state: EmulatorState): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const notFound = (sub: string) => ({ error: { code: 404, message: `unknown user ${sub}` } });

  r.post('/emulator/users', { schema: { body: UserBody } }, async (req, reply) => {
    const user = state.identity.addUser(req.body.email, req.body.sub);
    for (const c of req.body.calendars ?? []) {
      state.store.createCalendar(c.id, { summary: c.summary });
      state.identity.share(user.sub, c.id, c);
    }
    return reply.code(201).send({ sub: user.sub, email: user.email });
  });

  // Adds the calendar to the user's list (creating the calendar if new): "shared with me" / "created".
  r.put('/emulator/users/:sub/calendar-list/:calendarId', { schema: { params: EntryParams, body: Entry } }, async (req, reply) => {
    if (!state.identity.user(req.params.sub)) return reply.code(404).send(notFound(req.params.sub));
    state.store.createCalendar(req.params.calendarId, { summary: req.body.summary });
    const e = state.identity.share(req.params.sub, req.params.calendarId, req.body);
    return { id: e.calendarId, accessRole: e.accessRole, primary: e.primary };
  });

  r.delete('/emulator/users/:sub/calendar-list/:calendarId', { schema: { params: EntryParams } }, async (req, reply) => {
    try {
      if (!state.identity.unshare(req.params.sub, req.params.calendarId)) return reply.code(404).send({ error: { code: 404, message: 'calendar not in the list' } });
    } catch (err) {
      if (err instanceof UnknownUserError) return reply.code(404).send(notFound(req.params.sub));
      throw err;
    }
    return reply.code(204).send();
  });

  r.post('/emulator/users/:sub/revoke', { schema: { params: UserParams } }, async (req, reply) => {
    if (!state.identity.user(req.params.sub)) return reply.code(404).send(notFound(req.params.sub));
    return { revoked: state.identity.revokeUser(req.params.sub) };
  });

  r.put('/emulator/consent', { schema: { body: ConsentBody } }, async (req, reply) => {
    if (req.body.user !== undefined && !state.identity.user(req.body.user)) return reply.code(404).send(notFound(req.body.user));
    if (req.body.user !== undefined) state.identity.consentingUser = req.body.user;
    if (req.body.deny !== undefined) state.identity.denyConsent = req.body.deny;
    return { user: state.identity.consentingUser ?? null, deny: state.identity.denyConsent };
  });
}
