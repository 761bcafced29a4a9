// Revoked access end to end: the emulator revokes the Google user's refresh token, the next sync meets
// invalid_grant, and calsync parks the account (no Google call for it any more, channels retired,
// mirror kept) until the same user connects again, when incremental syncs resume.
import t, { type Test } from 'tap';
import { AUTH, startPushHarness, type PushHarness } from '../helpers/push-harness.js';
import { eventBody } from '../helpers/sync-harness.js';
import { metricTypes, parseSamples, total } from '../helpers/prom-text.js';
import { callback, consent, startConnect } from '../connect/helpers.js';
import { NEVER } from '../../src/sync/priority.js';

const GCAL = 'team-revoked@group.calendar.google.com';

// Seven harnesses (emulator, app, database each): ~15 s on a quiet machine, 90 s seen on a loaded one.
t.setTimeout(300_000);

async function settle(h: PushHarness): Promise<void> {
  await h.emu.flushPings();
  await h.engine!.onIdle();
}

/** The consent flow for the emulator's consenting user; returns the callback page. */
async function connectUser(h: PushHarness) {
  const started = await startConnect(h, { headers: AUTH });
  return callback(h, await consent(started.consentUrl), started.cookie);
}

async function account(h: PushHarness) {
  const [acc, ...more] = await h.conn.db!.collection('accounts').find().toArray();
  if (!acc || more.length > 0) throw new Error(`expected one account, found ${more.length + (acc ? 1 : 0)}`);
  return acc;
}

const calendar = (h: PushHarness, id: string) => h.models.Calendar.findById(id).lean();
const mirrored = (h: PushHarness, id: string) => h.models.Event.countDocuments({ calendarId: id, status: { $ne: 'cancelled' } });

/** A Google user connected through consent, with one calendar registered, fully synced and watched. */
async function connectedWithCalendar(t: Test, name: string, env: Record<string, string> = {}) {
  const h = await startPushHarness(t, { name, listen: true, env });
  const sub = h.emu.addUser('ada@example.com', { sub: '2000001' });
  t.equal((await connectUser(h)).statusCode, 200);
  const accountId = String((await account(h))._id);
  h.emu.createCalendar(GCAL);
  h.emu.insertEvents(GCAL, [eventBody(1), eventBody(2), eventBody(3)]);
  const reg = await h.app.inject({ method: 'POST', url: '/admin/calendars', headers: AUTH, payload: { accountId, googleCalendarId: GCAL } });
  t.equal(reg.statusCode, 201, reg.body);
  const calendarId = (reg.json() as { id: string }).id;
  await settle(h);
  t.equal(await mirrored(h, calendarId), 3, 'mirrored before the revocation');
  t.equal((await h.activeChannels(calendarId)).length, 1, 'watched before the revocation');
  return { h, sub, accountId, calendarId };
}

t.test('a revoked refresh token marks the account reauth_required at the next sync; nothing calls Google for it until it is reconnected', async (t) => {
  const { h, sub, accountId, calendarId } = await connectedWithCalendar(t, 'revoked-access');
  const channelBefore = (await h.activeChannels(calendarId))[0]!;

  h.emu.revokeUser(sub);
  h.emu.insertEvent(GCAL, eventBody(4)); // ping → sync → token refresh refused (invalid_grant)
  await settle(h);

  const acc = await account(h);
  t.equal(acc.status, 'reauth_required');
  t.match(acc.statusReason, /invalid_grant/);
  t.ok(acc.statusChangedAt instanceof Date, 'the time is recorded');
  const cal = await calendar(h, calendarId);
  t.equal(cal!.state, 'needs_attention');
  t.match(cal!.lastError, { code: 'reauth_required' });
  t.same(cal!.dueAt, NEVER, 'no sync pending');
  t.same(cal!.channelCheckAt, NEVER, 'no channel work pending');
  t.equal(await mirrored(h, calendarId), 3, 'the mirror is kept');
  t.same(await h.activeChannels(calendarId), [], 'no active channel is left to renew');
  const retired = await h.conn.db!.collection('channels').findOne({ _id: channelBefore._id as never });
  t.match(retired, { status: 'superseded', endReason: 'account needs reconnecting' });

  // Everything that would normally call Google for it: pings, an operator's request, the safety
  // net and a renewal pass a day later. None reaches Google (not even the token endpoint).
  const since = h.emu.now();
  h.emu.insertEvent(GCAL, eventBody(5));
  await settle(h);
  const forced = await h.app.inject({ method: 'POST', url: `/admin/calendars/${calendarId}/sync`, headers: AUTH, payload: { mode: 'incremental' } });
  t.equal(forced.statusCode, 202);
  await settle(h);
  await h.app.services.resync();
  h.advance(25 * 3_600_000);
  const renewal = await h.app.services.renewChannels();
  await settle(h);
  t.equal(renewal.created + renewal.renewed, 0, 'no channel opened');
  t.same(h.emu.calls(since).map((c) => c.method), [], 'no call reached Google after the account was marked');
  t.equal((await account(h)).status, 'reauth_required', 'marked once, still marked');

  // Visible to ops: admin API (without credentials), status alerts, the gauge.
  const listed = await h.app.inject({ method: 'GET', url: '/admin/accounts', headers: AUTH });
  t.equal(listed.statusCode, 200);
  t.match(listed.json(), { accounts: [{ id: accountId, status: 'reauth_required', statusReason: /invalid_grant/, email: 'ada@example.com' }] });
  t.notMatch(listed.body, /emu-|refreshToken|sealed/, 'no credentials in the listing');
  const status = await h.app.inject({ method: 'GET', url: '/admin/status', headers: AUTH });
  t.match(status.json().alerts, [{ name: 'account_reauth_required', value: 1 }]);
  const scraped = await h.app.inject({ url: '/metrics' });
  const samples = parseSamples(scraped.body);
  const types = metricTypes(scraped.body);
  t.equal(total(samples, 'calsync_accounts', types.get('calsync_accounts')!, { status: 'reauth_required' }), 1);
  t.equal(total(samples, 'calsync_accounts', types.get('calsync_accounts')!, { status: 'active' }), 0);
  const dashboard = await h.app.inject({ method: 'GET', url: '/dashboard', headers: AUTH });
  t.equal(dashboard.statusCode, 200);
  t.match(dashboard.body, /<section id="accounts-reconnect"[\s\S]*ada@example\.com[\s\S]*invalid_grant/, 'the dashboard lists the account to reconnect');
  t.notMatch(dashboard.body, /emu-/, 'without its token');
});

t.test('reconnecting the same Google user restores the same account and resumes incremental sync with the kept token', async (t) => {
  const { h, sub, accountId, calendarId } = await connectedWithCalendar(t, 'revoked-reconnect');
  const fullBefore = (await calendar(h, calendarId))!.counters!.full;
  h.emu.revokeUser(sub);
  h.emu.insertEvent(GCAL, eventBody(4));
  await settle(h);
  t.equal((await account(h)).status, 'reauth_required');
  h.emu.insertEvent(GCAL, eventBody(5)); // changed while nobody could sync

  const page = await connectUser(h);
  t.equal(page.statusCode, 200);
  t.match(page.body, /connected again/);
  const acc = await account(h);
  t.equal(String(acc._id), accountId, 'the same account');
  t.equal(acc.status, 'active');
  t.equal(acc.statusReason, null);
  t.equal(await h.models.Calendar.countDocuments({ accountId: acc._id }), 1, 'no duplicate calendar');

  await h.app.services.access.idle();
  await settle(h);
  const cal = await calendar(h, calendarId);
  t.equal(cal!.state, 'idle');
  t.equal(cal!.counters!.full, fullBefore, 'no full sync: the kept token was accepted');
  t.ok(cal!.counters!.incremental >= 1, 'an incremental sync ran');
  t.equal(await mirrored(h, calendarId), 5, 'the changes made meanwhile are mirrored');
  t.equal((await h.activeChannels(calendarId)).length, 1, 'a channel is open again');

  h.emu.insertEvent(GCAL, eventBody(6)); // and pings flow again
  await settle(h);
  t.equal(await mirrored(h, calendarId), 6);
});

t.test('a 503 from the token endpoint is transient: the account stays active', async (t) => {
  const { h, accountId, calendarId } = await connectedWithCalendar(t, 'revoked-transient', { SYNC_RETRY_AFTER_FAILURE_SECONDS: '3600', SYNC_MAX_RETRIES: '0' });
  // Expire the access token so the next call must go to the token endpoint, which fails.
  h.advance(2 * 3_600_000);
  h.emu.addFault({ method: 'token', status: 503 });
  const forced = await h.app.inject({ method: 'POST', url: `/admin/calendars/${calendarId}/sync`, headers: AUTH, payload: { mode: 'incremental' } });
  t.equal(forced.statusCode, 202);
  await settle(h);
  t.ok(h.emu.calls(0).some((c) => c.method === 'token' && c.status === 503), 'the token endpoint answered 503');
  t.match(await account(h), { status: 'active', statusReason: null });
  t.equal((await calendar(h, calendarId))!.state, 'failed', 'retried later, not parked');
  t.equal((await h.app.inject({ method: 'GET', url: '/admin/accounts', headers: AUTH })).json().accounts[0].id, accountId);
});

t.test('a channel renewal that meets invalid_grant marks the account and opens no channel', async (t) => {
  const { h, sub, calendarId } = await connectedWithCalendar(t, 'revoked-renewal');
  h.emu.revokeUser(sub);
  h.advance(25 * 3_600_000); // into the renewal lead (48 h TTL, 24 h lead); the access token has expired too
  const report = await h.app.services.renewChannels();
  t.equal(report.candidates, 1, 'the calendar was due for renewal');
  t.equal(report.created + report.renewed, 0);
  t.match(await account(h), { status: 'reauth_required', statusReason: /opening a push channel/ });
  const cal = await calendar(h, calendarId);
  t.equal(cal!.state, 'needs_attention', 'its calendars are parked');
  t.same(cal!.channelCheckAt, NEVER);
  t.same(await h.activeChannels(calendarId), []);
  t.equal(await mirrored(h, calendarId), 3, 'the mirror is kept');
});

t.test('a client cached by another replica is rebuilt after a reconnect (its credentials version changed)', async (t) => {
  const { h, sub, accountId, calendarId } = await connectedWithCalendar(t, 'revoked-replica-cache');
  // h.clients is a second client cache over the same database: another replica's.
  const before = await h.clients.forAccount(accountId);
  t.equal(await h.clients.forAccount(accountId), before, 'cached while nothing changes');

  h.emu.revokeUser(sub);
  h.emu.insertEvent(GCAL, eventBody(4));
  await settle(h); // this replica meets invalid_grant and marks the account
  t.equal((await account(h)).status, 'reauth_required');
  t.equal((await connectUser(h)).statusCode, 200);
  await h.app.services.access.idle();
  await settle(h);
  t.equal((await calendar(h, calendarId))!.state, 'idle');

  const after = await h.clients.forAccount(accountId);
  t.not(after, before, 'the other replica built a new client');
  const listed = await after.events.list({ calendarId: GCAL });
  t.equal(listed.status, 200, 'with the new refresh token');
});

t.test('the account is marked once however many refusals arrive at once, and a refusal of credentials older than a reconnect changes nothing', async (t) => {
  const { h, accountId } = await connectedWithCalendar(t, 'revoked-once');
  const before = new Date(h.now() - 1000);
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => h.app.services.access.lost(accountId, `refusal ${i} (invalid_grant)`, before)));
  t.equal(results.filter(Boolean).length, 1, 'exactly one caller changed the status');
  const marked = await account(h);
  t.equal(marked.status, 'reauth_required');

  t.equal((await connectUser(h)).statusCode, 200);
  await h.app.services.access.idle();
  // A pass that picked up the old credentials before the reconnect reports its refusal late.
  t.equal(await h.app.services.access.lost(accountId, 'late refusal (invalid_grant)', before), false);
  t.match(await account(h), { status: 'active', statusReason: null });
});

t.test('a channel stop that meets invalid_grant marks the account and parks the stop', async (t) => {
  const { h, sub, calendarId } = await connectedWithCalendar(t, 'revoked-stop');
  const [channel] = await h.activeChannels(calendarId);
  h.emu.revokeUser(sub);
  h.advance(2 * 3_600_000); // the access token has expired: the stop must refresh it first
  const removed = await h.app.inject({ method: 'DELETE', url: `/admin/calendars/${calendarId}`, headers: AUTH });
  t.equal(removed.statusCode, 200);
  t.match(await account(h), { status: 'reauth_required', statusReason: /stopping a channel/ });
  const stop = await h.conn.db!.collection('channels').findOne({ _id: channel!._id as never });
  t.match(stop, { status: 'superseded', lastStopError: 'account needs reconnecting' });
  t.same(stop!.stopNotBefore, NEVER, 'not retried until the account is reconnected');
});
