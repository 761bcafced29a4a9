import t from 'tap';
import { PRIORITY } from '../../src/sync/priority.js';
import { Types } from 'mongoose';
import { channelModel } from '../../src/channels/channel-model.js';
import { calendarModel } from '../../src/models/calendar.js';
import { eventModel } from '../../src/models/event.js';
import { AUTH, startPushHarness } from '../helpers/push-harness.js';

t.test('every admin route answers 401 without the bearer token, or with a wrong one', async (t) => {
  const h = await startPushHarness(t, { name: 'adm-auth', sync: 'recording' });
  const id = new Types.ObjectId().toHexString();
  const routes: Array<[string, string]> = [
    ['POST', '/admin/accounts'],
    ['POST', '/admin/calendars'],
    ['GET', '/admin/calendars'],
    ['GET', `/admin/calendars/${id}`],
    ['POST', `/admin/calendars/${id}/sync`],
    ['GET', `/admin/calendars/${id}/events`],
    ['DELETE', `/admin/calendars/${id}`],
    ['GET', '/admin/status'],
  ];
  const wrong = [undefined, 'Bearer nope', `Bearer ${h.config.adminToken}x`, `Basic ${h.config.adminToken}`, h.config.adminToken];
  for (const [method, url] of routes) {
    for (const authorization of wrong) {
      const res = await h.app.inject({ method: method as 'GET', url, headers: authorization ? { authorization } : {}, payload: method === 'GET' ? undefined : {} });
      t.equal(res.statusCode, 401, `${method} ${url} with ${authorization ? 'a wrong token' : 'no token'}`);
      t.equal(res.json().error.code, 'UNAUTHORIZED');
    }
  }
  t.equal(await h.conn.db!.collection('accounts').countDocuments(), 0);
});

t.test('registering a calendar opens its watch channel, asks for a full sync and answers 201', async (t) => {
  const h = await startPushHarness(t, { name: 'adm-register', sync: 'recording' });
  h.emu.createCalendar('team@group.calendar.google.com');
  const accountId = await h.accountId();
  const res = await h.app.inject({
    method: 'POST',
    url: '/admin/calendars',
    headers: AUTH,
    payload: { accountId, googleCalendarId: 'team@group.calendar.google.com' },
  });
  t.equal(res.statusCode, 201);
  const body = res.json();
  t.match(body, { accountId, googleCalendarId: 'team@group.calendar.google.com', mode: 'push', channel: { outcome: 'opened' }, sync: 'requested' });
  const stored = await h.models.Calendar.findById(body.id).lean();
  t.match(stored, { pendingFullSync: true, priority: PRIORITY.recovery }, 'the full sync is recorded with the calendar itself');
  t.ok(stored!.dueAt.getTime() <= Date.now(), 'and is due at once');
  t.same(h.recording.requests, [{ calendarId: body.id, reason: 'registered', priority: PRIORITY.recovery }], 'one more sync covers changes made before the watch opened');
  t.equal(h.emu.channels().length, 1);
  t.equal(h.emu.channels()[0]?.id, body.channel.id);

  const again = await h.app.inject({ method: 'POST', url: '/admin/calendars', headers: AUTH, payload: { accountId, googleCalendarId: 'team@group.calendar.google.com' } });
  t.equal(again.statusCode, 409, 'a calendar is registered once per account');
  t.equal(again.json().error.code, 'CALENDAR_EXISTS');

  const unknown = await h.app.inject({
    method: 'POST',
    url: '/admin/calendars',
    headers: AUTH,
    payload: { accountId: new Types.ObjectId().toHexString(), googleCalendarId: 'x@y' },
  });
  t.equal(unknown.statusCode, 400);
  t.equal(unknown.json().error.code, 'ACCOUNT_NOT_FOUND');
  const malformed = await h.app.inject({ method: 'POST', url: '/admin/calendars', headers: AUTH, payload: { accountId: 'nope', googleCalendarId: '' } });
  t.equal(malformed.statusCode, 400);
});

t.test('calendar state shows mode, token presence, sync times, channel expiry, event count and last error, never the token', async (t) => {
  const h = await startPushHarness(t, { name: 'adm-state', sync: 'recording' });
  const id = await h.registerCalendar('state@group.calendar.google.com');
  const syncedAt = new Date('2026-01-02T03:04:05.000Z');
  await calendarModel(h.conn).updateOne(
    { _id: id },
    { $set: { syncToken: 'SECRET-SYNC-TOKEN', lastSyncedAt: syncedAt, lastFullSyncAt: syncedAt, lastError: { code: 'rate_limited', message: 'HTTP 429', at: syncedAt } } },
  );
  await eventModel(h.conn).insertMany(
    [1, 2, 3].map((i) => ({ calendarId: id, googleEventId: `e${i}`, data: { id: `e${i}` }, syncedAt })),
  );
  const one = await h.app.inject({ method: 'GET', url: `/admin/calendars/${id}`, headers: AUTH });
  t.equal(one.statusCode, 200);
  const state = one.json();
  t.match(state, {
    id,
    mode: 'push',
    hasSyncToken: true,
    lastSyncedAt: syncedAt.toISOString(),
    lastFullSyncAt: syncedAt.toISOString(),
    eventCount: 3,
    lastError: { code: 'rate_limited', message: 'HTTP 429' },
    channel: { status: 'active' },
  });
  t.equal(state.channel.expiration, new Date(h.emu.channels()[0]!.expiration).toISOString());
  t.notOk(one.body.includes('SECRET-SYNC-TOKEN'), 'the sync token is never returned');
  t.notOk('syncToken' in state);

  const list = await h.app.inject({ method: 'GET', url: '/admin/calendars', headers: AUTH });
  t.equal(list.statusCode, 200);
  t.equal(list.json().calendars.length, 1);
  t.notOk(list.body.includes('SECRET-SYNC-TOKEN'));

  const missing = await h.app.inject({ method: 'GET', url: `/admin/calendars/${new Types.ObjectId().toHexString()}`, headers: AUTH });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().error.code, 'CALENDAR_NOT_FOUND');
});

t.test('POST /admin/calendars/:id/sync asks for the given mode and answers 202', async (t) => {
  const h = await startPushHarness(t, { name: 'adm-sync', sync: 'recording' });
  const id = await h.registerCalendar('sync@group.calendar.google.com');
  h.recording.requests.length = 0;
  const full = await h.app.inject({ method: 'POST', url: `/admin/calendars/${id}/sync`, headers: AUTH, payload: { mode: 'full' } });
  t.equal(full.statusCode, 202);
  t.same(full.json(), { id, mode: 'full', status: 'requested' });
  const inc = await h.app.inject({ method: 'POST', url: `/admin/calendars/${id}/sync`, headers: AUTH, payload: { mode: 'incremental' } });
  t.equal(inc.statusCode, 202);
  t.same(h.recording.requests, [
    { calendarId: id, mode: 'full', reason: 'admin', priority: PRIORITY.recovery },
    { calendarId: id, mode: 'incremental', reason: 'admin', priority: PRIORITY.recovery },
  ]);
  const bad = await h.app.inject({ method: 'POST', url: `/admin/calendars/${id}/sync`, headers: AUTH, payload: { mode: 'everything' } });
  t.equal(bad.statusCode, 400);
  const missing = await h.app.inject({ method: 'POST', url: `/admin/calendars/${new Types.ObjectId().toHexString()}/sync`, headers: AUTH, payload: { mode: 'full' } });
  t.equal(missing.statusCode, 404);
  t.equal(h.recording.requests.length, 2);
});

t.test('the mirrored events are paged with an opaque cursor until the last page', async (t) => {
  const h = await startPushHarness(t, { name: 'adm-events', sync: 'recording' });
  const id = await h.registerCalendar('events@group.calendar.google.com');
  const syncedAt = new Date();
  await eventModel(h.conn).insertMany(
    Array.from({ length: 7 }, (_, i) => ({ calendarId: id, googleEventId: `ev${i}`, summary: `Event ${i}`, status: 'confirmed', data: { id: `ev${i}` }, syncedAt })),
  );
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const url: string = `/admin/calendars/${id}/events?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await h.app.inject({ method: 'GET', url, headers: AUTH });
    t.equal(res.statusCode, 200);
    const page = res.json() as { events: Array<{ id: string; summary: string; data: unknown }>; nextCursor: string | null };
    seen.push(...page.events.map((e) => e.id));
    cursor = page.nextCursor;
    pages++;
  } while (cursor && pages < 10);
  t.equal(pages, 3);
  t.same(seen, ['ev0', 'ev1', 'ev2', 'ev3', 'ev4', 'ev5', 'ev6']);

  const bogus = await h.app.inject({ method: 'GET', url: `/admin/calendars/${id}/events?cursor=not-a-cursor`, headers: AUTH });
  t.equal(bogus.statusCode, 400);
  t.equal(bogus.json().error.code, 'INVALID_CURSOR');
  const tooMany = await h.app.inject({ method: 'GET', url: `/admin/calendars/${id}/events?limit=100000`, headers: AUTH });
  t.equal(tooMany.statusCode, 400);
});

t.test('DELETE stops the calendar’s channel at Google and removes its mirror', async (t) => {
  const h = await startPushHarness(t, { name: 'adm-delete', sync: 'recording' });
  const id = await h.registerCalendar('delete@group.calendar.google.com');
  const keep = await h.registerCalendar('keep@group.calendar.google.com');
  const syncedAt = new Date();
  await eventModel(h.conn).insertMany([
    { calendarId: id, googleEventId: 'a', data: {}, syncedAt },
    { calendarId: keep, googleEventId: 'b', data: {}, syncedAt },
  ]);
  const res = await h.app.inject({ method: 'DELETE', url: `/admin/calendars/${id}`, headers: AUTH });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { id, deleted: true, channelsStopped: 1, channelStopsPending: 0, eventsRemoved: 1 });
  const emu = h.emu.channels();
  t.same(emu.filter((c) => c.stopped).map((c) => c.calendarId), ['delete@group.calendar.google.com']);
  t.equal(await channelModel(h.conn).countDocuments({ calendarId: id, status: { $ne: 'stopped' } }), 0);
  t.equal(await eventModel(h.conn).countDocuments({ calendarId: id }), 0);
  t.equal(await eventModel(h.conn).countDocuments({ calendarId: keep }), 1, 'other calendars keep their mirror');
  const again = await h.app.inject({ method: 'DELETE', url: `/admin/calendars/${id}`, headers: AUTH });
  t.equal(again.statusCode, 404);
});

t.test('the fleet status counts calendars by state and mode and summarises channel expiry', async (t) => {
  const h = await startPushHarness(t, { name: 'adm-status', sync: 'recording' });
  await h.registerCalendar('s1@group.calendar.google.com');
  await h.registerCalendar('s2@group.calendar.google.com');
  h.emu.addFault({ method: 'events.watch', status: 400, reason: 'pushNotSupportedForRequestedResource', count: 1 });
  await h.registerCalendar('s3@group.calendar.google.com');

  const res = await h.app.inject({ method: 'GET', url: '/admin/status', headers: AUTH });
  t.equal(res.statusCode, 200);
  const status = res.json();
  t.match(status, {
    calendars: { total: 3, byState: { idle: 3, syncing: 0, failed: 0, needs_attention: 0 }, byMode: { push: 2, polling: 1 } },
    channels: { active: 2, pending: 0, expired: 0, dueForRenewal: 0, pushCalendarsWithoutChannel: 0 },
    alerts: [],
  });
  const soonest = Math.min(...h.emu.channels().map((c) => c.expiration));
  t.equal(status.channels.nextExpiration, new Date(soonest).toISOString());

  h.advance(25 * 3_600_000);
  const later = (await h.app.inject({ method: 'GET', url: '/admin/status', headers: AUTH })).json();
  t.equal(later.channels.dueForRenewal, 2, 'channels inside the renewal lead are reported as due');
});

t.test('a refresh-token account is refused while the server has no OAuth client configured', async (t) => {
  const h = await startPushHarness(t, { name: 'admin-no-oauth-client', sync: 'recording', env: { GOOGLE_CLIENT_ID: '', GOOGLE_CLIENT_SECRET: '' } });
  const res = await h.app.inject({ method: 'POST', url: '/admin/accounts', headers: AUTH, payload: { refreshToken: 'rt-whatever' } });
  t.equal(res.statusCode, 400);
  t.equal(res.json().error.code, 'OAUTH_CLIENT_NOT_CONFIGURED');
  t.notMatch(res.body, 'rt-whatever', 'the credential is not echoed');
  t.equal(await h.conn.collection('accounts').countDocuments(), 0, 'nothing stored');
});

t.test('JSON bodies are validated as sent: values of the wrong type are refused, not coerced', async (t) => {
  const h = await startPushHarness(t, { name: 'adm-strict', sync: 'recording' });
  const id = await h.registerCalendar('strict@group.calendar.google.com');
  const accountId = await h.accountId();
  const accountsBefore = await h.conn.db!.collection('accounts').countDocuments();
  const cases: Array<[string, string, unknown]> = [
    ['POST', '/admin/accounts', { refreshToken: 12345 }],
    ['POST', '/admin/accounts', { refreshToken: ['rt-1'] }],
    ['POST', '/admin/accounts', { refreshToken: 'rt-ok', label: 7 }],
    ['POST', '/admin/calendars', { accountId: [accountId], googleCalendarId: 'other@group.calendar.google.com' }],
    ['POST', '/admin/calendars', { accountId, googleCalendarId: 42 }],
    ['POST', `/admin/calendars/${id}/sync`, { mode: ['full'] }],
    ['PATCH', `/admin/calendars/${id}`, { incrementalEnabled: 'true' }],
  ];
  for (const [method, url, payload] of cases) {
    const res = await h.app.inject({ method: method as 'POST', url, headers: AUTH, payload: payload as object });
    t.equal(res.statusCode, 400, `${method} ${url} ${JSON.stringify(payload)}`);
    t.equal(res.json().error.code, 'BAD_REQUEST');
  }
  t.equal(await h.conn.db!.collection('accounts').countDocuments(), accountsBefore, 'no account stored');
  t.equal(await h.conn.db!.collection('calendars').countDocuments(), 1, 'no calendar stored');
  t.same(h.recording.requests.map((r) => r.reason), ['registered'], 'no sync requested');
  const page = await h.app.inject({ url: `/admin/calendars/${id}/events?limit=5`, headers: AUTH });
  t.equal(page.statusCode, 200, 'query strings still parse numbers');
});

t.test('unknown admin paths answer 401 before auth and 404 only to an authorised caller', async (t) => {
  const h = await startPushHarness(t, { name: 'adm-unknown', sync: 'recording' });
  const paths: Array<[string, string]> = [
    ['GET', '/admin'],
    ['GET', '/admin/'],
    ['GET', '/admin/secrets'],
    ['POST', '/admin/accounts/extra'],
    ['DELETE', '/admin/calendars'],
    ['GET', '/ADMIN/whatever'],
  ];
  for (const [method, url] of paths) {
    const anonymous = await h.app.inject({ method: method as 'GET', url });
    t.equal(anonymous.statusCode, 401, `${method} ${url} without a token`);
    t.equal(anonymous.json().error.code, 'UNAUTHORIZED');
    const wrong = await h.app.inject({ method: method as 'GET', url, headers: { authorization: 'Bearer nope' } });
    t.equal(wrong.statusCode, 401, `${method} ${url} with a wrong token`);
    const authorised = await h.app.inject({ method: method as 'GET', url, headers: AUTH });
    t.equal(authorised.statusCode, 404, `${method} ${url} with the token`);
    t.same(authorised.json(), { error: { code: 'NOT_FOUND', message: 'no such route' } });
  }
  const elsewhere = await h.app.inject({ url: '/nothing-here' });
  t.equal(elsewhere.statusCode, 404, 'outside /admin an unknown path is a plain 404');
  t.equal(elsewhere.json().error.code, 'NOT_FOUND');
});
