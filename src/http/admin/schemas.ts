import { Type } from '@fastify/type-provider-typebox';
import { SYNC_STATES } from '../../models/calendar.js';
import { DISCOVERY_POLICIES, MAX_EXPLICIT_IDS, ON_REMOVED } from '../../discovery/policy.js';

const Timestamp = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
export const ObjectIdString = Type.String({ pattern: '^[0-9a-fA-F]{24}$', description: 'a calsync id' });

export const ErrorReply = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});

export const IdParams = Type.Object({ id: ObjectIdString });

const KeyField = Type.String({ maxLength: 2048 });

/**
 * A Google service-account JSON key as Google issues it: one flat object of strings. Fields Google
 * may add later are allowed, but only as strings and only a few, so no key can be deep or large
 * (a deeply nested "key" once overflowed the stack while being sealed).
 */
export const ServiceAccountKey = Type.Object(
  {
    type: Type.Optional(Type.Literal('service_account')),
    client_email: Type.String({ minLength: 3, maxLength: 320 }),
    private_key: Type.String({ minLength: 1, maxLength: 16384 }),
    project_id: Type.Optional(KeyField),
    private_key_id: Type.Optional(KeyField),
    client_id: Type.Optional(KeyField),
    auth_uri: Type.Optional(KeyField),
    token_uri: Type.Optional(KeyField),
    auth_provider_x509_cert_url: Type.Optional(KeyField),
    client_x509_cert_url: Type.Optional(KeyField),
    universe_domain: Type.Optional(KeyField),
  },
  { additionalProperties: KeyField, maxProperties: 24 },
);

/** `{refreshToken, label?}` or `{serviceAccountKey, subject, label?}`; exclusivity is checked in the route. */
export const CreateAccountBody = Type.Object(
  {
    refreshToken: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    serviceAccountKey: Type.Optional(ServiceAccountKey),
    subject: Type.Optional(Type.String({ minLength: 3, maxLength: 320 })),
    label: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const CreatedId = Type.Object({ id: Type.String() });


export const CreateCalendarBody = Type.Object(
  { accountId: ObjectIdString, googleCalendarId: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);

export const CalendarState = Type.Object({
  id: Type.String(),
  accountId: Type.String(),
  googleCalendarId: Type.String(),
  mode: Type.String(),
  modeReason: Type.Union([Type.String(), Type.Null()]),
  state: Type.String(),
  incrementalEnabled: Type.Union([Type.Boolean(), Type.Null()]),
  hasSyncToken: Type.Boolean(),
  lastSyncedAt: Timestamp,
  lastFullSyncAt: Timestamp,
  lastSyncDurationMs: Type.Union([Type.Number(), Type.Null()]),
  eventCount: Type.Integer(),
  lastError: Type.Union([
    Type.Object({ code: Type.Union([Type.String(), Type.Null()]), message: Type.Union([Type.String(), Type.Null()]), at: Timestamp }),
    Type.Null(),
  ]),
  channel: Type.Union([
    Type.Object({ id: Type.String(), status: Type.String(), expiration: Timestamp, lastPingAt: Timestamp }),
    Type.Null(),
  ]),
});

export const RegisteredCalendar = Type.Object({
  id: Type.String(),
  accountId: Type.String(),
  googleCalendarId: Type.String(),
  mode: Type.String(),
  modeReason: Type.Union([Type.String(), Type.Null()]),
  channel: Type.Object({
    outcome: Type.String(),
    id: Type.Optional(Type.String()),
    expiration: Type.Optional(Timestamp),
    error: Type.Optional(Type.String()),
  }),
  sync: Type.Literal('requested'),
});

export const SyncBody = Type.Object({ mode: Type.Union([Type.Literal('incremental'), Type.Literal('full')]) }, { additionalProperties: false });
export const CalendarSettingsBody = Type.Object(
  { incrementalEnabled: Type.Union([Type.Boolean(), Type.Null()], { description: 'true/false override INCREMENTAL_SYNC_ENABLED; null inherits it' }) },
  { additionalProperties: false },
);
export const SyncAccepted = Type.Object({ id: Type.String(), mode: Type.String(), status: Type.Literal('requested') });

export const EventsQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
});

/** GET /admin/calendars: one page at a time, never the whole fleet. */
export const CalendarsQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    state: Type.Optional(Type.Union(SYNC_STATES.map((s) => Type.Literal(s)))),
  },
  { additionalProperties: false },
);

export const CalendarsPage = Type.Object({
  calendars: Type.Array(CalendarState),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export const EventsPage = Type.Object({
  events: Type.Array(
    Type.Object({
      id: Type.String(),
      status: Type.Union([Type.String(), Type.Null()]),
      summary: Type.Union([Type.String(), Type.Null()]),
      start: Type.Unknown(),
      end: Type.Unknown(),
      updated: Timestamp,
      recurringEventId: Type.Union([Type.String(), Type.Null()]),
      etag: Type.Union([Type.String(), Type.Null()]),
      data: Type.Unknown(),
    }),
  ),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export const Deleted = Type.Object({
  id: Type.String(),
  deleted: Type.Literal(true),
  channelsStopped: Type.Integer(),
  channelStopsPending: Type.Integer(),
  eventsRemoved: Type.Integer(),
});

const Counts = Type.Record(Type.String(), Type.Integer());

export const FleetStatus = Type.Object({
  calendars: Type.Object({ total: Type.Integer(), byState: Counts, byMode: Counts }),
  channels: Type.Object({
    pending: Type.Integer(),
    active: Type.Integer(),
    superseded: Type.Integer(),
    supersededAwaitingStopRetry: Type.Integer(),
    expired: Type.Integer(),
    dueForRenewal: Type.Integer(),
    nextExpiration: Timestamp,
    pushCalendarsWithoutChannel: Type.Integer(),
  }),
  alerts: Type.Array(
    Type.Object({ name: Type.String(), severity: Type.String(), message: Type.String(), value: Type.Number(), threshold: Type.Number() }),
  ),
  subscriptions: Type.Optional(Type.Object({ active: Type.Integer(), failing: Type.Integer() })),
});

/** A discovery policy in an admin body (checked further by validatePolicy). */
export const DiscoveryBody = Type.Object(
  {
    policy: Type.Union(DISCOVERY_POLICIES.map((p) => Type.Literal(p))),
    calendarIds: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { maxItems: MAX_EXPLICIT_IDS })),
    onRemoved: Type.Optional(Type.Union(ON_REMOVED.map((p) => Type.Literal(p)))),
  },
  { additionalProperties: false },
);

/** PATCH /admin/accounts/:id: the account's calendar discovery policy (src/discovery/policy.ts). */
export const AccountSettingsBody = Type.Object({ discovery: DiscoveryBody }, { additionalProperties: false });

/** An account as the admin API shows it: never its credentials or its calendarList token. */
export const AccountState = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  label: Type.Union([Type.String(), Type.Null()]),
  email: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal('active'), Type.Literal('reauth_required')]),
  statusReason: Type.Union([Type.String(), Type.Null()]),
  statusChangedAt: Timestamp,
  discovery: Type.Object({
    policy: Type.String(),
    calendarIds: Type.Array(Type.String()),
    onRemoved: Type.String(),
    lastDiscoveryAt: Timestamp,
    lastError: Type.Union([Type.Object({ code: Type.String(), message: Type.String(), at: Timestamp }), Type.Null()]),
  }),
  createdAt: Timestamp,
});
