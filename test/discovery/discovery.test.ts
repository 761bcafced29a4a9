import t, { type Test } from 'tap';
import { Types } from 'mongoose';
import { AUTH, startPushHarness, type PushHarness } from '../helpers/push-harness.js';
import { eventBody } from '../helpers/sync-harness.js';
import { waitFor as waitForDefault } from '../helpers/wait-for.js';
import { channelModel } from '../../src/channels/channel-model.js';
import { ListChannels } from '../../src/channels/list-channel.js';
import { webhookAddress } from '../../src/channels/channel-token.js';
import { DiscoveryService } from '../../src/discovery/discovery-service.js';
import { calendarStates, connectUser, patchDiscovery } from './helpers.js';

// Seven harnesses (emulator + app each), real syncs and pings: generous limits for a loaded CI
// machine (the file takes ~20 s on a quiet one).
t.setTimeout(240_000);
const waitFor = (condition: () => Promise<boolean>, opts: { what: string }) => waitForDefault(condition, { ...opts, timeoutMs: 60_000 });

const calls = (h: PushHarness, method: string) => h.emu.stats()[method] ?? 0;
const accountDoc = (h: PushHarness, id: string) => h.conn.db!.collection('accounts').findOne({ _id: new Types.ObjectId(id) });
const eventCount = async (h: PushHarness, accountId: string, gcalId: string) => {
  const cal = await h.models.Calendar.findOne({ accountId, googleCalendarId: gcalId }).select({ _id: 1 }).lean();
  return cal ? h.models.Event.countDocuments({ calendarId: cal._id }) : 0;
};
const passes = async (h: PushHarness, outcome: string) => {
  const text = await h.app.services.metrics.registry.getSingleMetricAsString('calsync_discovery_passes_total');
  return Number(new RegExp(`outcome="${outcome}"} (\\d+)`).exec(text)?.[1] ?? 0);
};

t.test('connect → the calendars the default policy admits are discovered and mirrored; a calendar shared later syncs after one calendarList ping; one unshared is retired (kept) or removed, by policy', async (t: Test) => {
  const h = await startPushHarness(t, { name: 'discovery-e2e', listen: true });
  const sub = h.emu.addUser('ada@example.com', { sub: '3000001' });
  h.emu.shareCalendar(sub, 'ada@example.com', { primary: true, accessRole: 'owner' });
  h.emu.shareCalendar(sub, 'team@group.calendar.google.com', { accessRole: 'reader' });
  h.emu.shareCalendar(sub, 'busy@group.calendar.google.com', { accessRole: 'freeBusyReader' });
  h.emu.insertEvents('ada@example.com', [eventBody(1), eventBody(2)]);
  h.emu.insertEvents('team@group.calendar.google.com', [eventBody(3)]);

  const accountId = await connectUser(h);
  await waitFor(async () => (await eventCount(h, accountId, 'ada@example.com')) === 2 && (await eventCount(h, accountId, 'team@group.calendar.google.com')) === 1, { what: 'the discovered calendars mirrored' });
  t.same(Object.keys(await calendarStates(h, accountId)).sort(), ['ada@example.com', 'team@group.calendar.google.com'], 'readable calendars admitted; a free/busy-only one is not');
  const Channel = channelModel(h.conn);
  await waitFor(async () => (await Channel.countDocuments({ accountId, kind: 'calendarList', status: 'active' })) === 1, { what: 'the calendarList channel' });
  t.equal(h.emu.channels().filter((c) => c.calendarId === `calendarList:${sub}` && !c.stopped).length, 1, 'one calendarList channel open at the emulator');
  // The pass stores its token after opening the channel.
  await h.app.services.discovery.idle();
  const acc = await accountDoc(h, accountId);
  t.match(acc, { discovery: { policy: 'all', onRemoved: 'keep' } });
  t.ok(acc!.calendarListSyncToken, 'the calendarList token is stored');
  const shown = await h.app.inject({ method: 'GET', url: `/admin/accounts/${accountId}`, headers: AUTH });
  t.equal(shown.statusCode, 200);
  t.match(shown.json(), { id: accountId, discovery: { policy: 'all', calendarIds: [], onRemoved: 'keep', lastError: null } });
  t.notMatch(shown.body, new RegExp(String(acc!.calendarListSyncToken).slice(0, 12)), 'the token is never shown');
  t.notMatch(shown.body, /1\/\/emu-|refreshToken/);

  // Shared later: one ping, one incremental list call, the calendar registered and mirrored. No cron runs here.
  await h.app.services.discovery.idle();
  const listsBefore = calls(h, 'calendarList.list');
  h.emu.shareCalendar(sub, 'later@group.calendar.google.com', { accessRole: 'writer' });
  h.emu.insertEvents('later@group.calendar.google.com', [eventBody(4)]);
  await waitFor(async () => (await eventCount(h, accountId, 'later@group.calendar.google.com')) === 1, { what: 'the calendar shared later mirrored' });
  t.equal(calls(h, 'calendarList.list') - listsBefore, 1, 'one incremental calendarList call');

  // Unshared with onRemoved=keep: retired, its channel stopped, its mirror kept.
  const team = await h.models.Calendar.findOne({ accountId, googleCalendarId: 'team@group.calendar.google.com' }).lean();
  const teamChannel = (await h.activeChannels(String(team!._id)))[0]!;
  h.emu.unshareCalendar(sub, 'team@group.calendar.google.com');
  await waitFor(async () => (await calendarStates(h, accountId))['team@group.calendar.google.com'] === 'retired', { what: 'the unshared calendar retired' });
  await waitFor(async () => (await Channel.findById(teamChannel._id).lean())?.status === 'stopped', { what: 'its channel stopped' });
  t.ok(h.emu.channels().find((c) => c.id === teamChannel._id)?.stopped, 'stopped at the emulator too');
  t.equal(await eventCount(h, accountId, 'team@group.calendar.google.com'), 1, 'mirror kept');

  // onRemoved=remove: an unshared calendar and its mirror are deleted.
  t.equal((await patchDiscovery(h, accountId, { policy: 'all', onRemoved: 'remove' })).statusCode, 200);
  await h.app.services.discovery.idle();
  h.emu.unshareCalendar(sub, 'later@group.calendar.google.com');
  await waitFor(async () => !('later@group.calendar.google.com' in (await calendarStates(h, accountId))), { what: 'the unshared calendar removed' });
  t.equal(await eventCount(h, accountId, 'later@group.calendar.google.com'), 0, 'mirror removed');
  t.equal((await calendarStates(h, accountId))['ada@example.com'], 'idle', 'the others carry on');
});

t.test('owned, primary and explicit policies admit the right calendars; a policy from a signed connect link is used and cannot be altered', async (t: Test) => {
  const h = await startPushHarness(t, { name: 'discovery-policies', sync: 'recording' });
  const sub = h.emu.addUser('bo@example.com', { sub: '3000002' });
  h.emu.shareCalendar(sub, 'bo@example.com', { primary: true, accessRole: 'owner' });
  h.emu.shareCalendar(sub, 'side@group.calendar.google.com', { accessRole: 'owner' });
  h.emu.shareCalendar(sub, 'shared@group.calendar.google.com', { accessRole: 'writer' });
  h.emu.shareCalendar(sub, 'holidays@group.v.calendar.google.com', { accessRole: 'reader' });

  const link = await h.app.inject({ method: 'POST', url: '/admin/connect-links', headers: AUTH, payload: { discovery: { policy: 'owned' } } });
  t.equal(link.statusCode, 201, link.body);
  const url = new URL(link.json().url as string);
  t.equal(url.searchParams.get('policy'), 'owned');
  const tampered = await h.app.inject({ method: 'GET', url: `/connect/google${url.search.replace('policy=owned', 'policy=all')}` });
  t.equal(tampered.statusCode, 401, 'a link whose policy was changed is refused');

  const accountId = await connectUser(h, url.search);
  await h.app.services.discovery.idle();
  t.same(await calendarStates(h, accountId), { 'bo@example.com': 'idle', 'side@group.calendar.google.com': 'idle' }, 'owned: the calendars the user owns');

  t.equal((await patchDiscovery(h, accountId, { policy: 'primary' })).statusCode, 200);
  await h.app.services.discovery.idle();
  t.same(await calendarStates(h, accountId), { 'bo@example.com': 'idle', 'side@group.calendar.google.com': 'retired' }, 'primary: only the primary calendar (the other retired, kept)');

  const res = await patchDiscovery(h, accountId, { policy: 'explicit', calendarIds: ['side@group.calendar.google.com', 'holidays@group.v.calendar.google.com', 'not-listed@example.com'] });
  t.equal(res.statusCode, 200, res.body);
  t.match(res.json(), { discovery: { policy: 'explicit', calendarIds: ['side@group.calendar.google.com', 'holidays@group.v.calendar.google.com', 'not-listed@example.com'] } });
  await h.app.services.discovery.idle();
  t.same(
    await calendarStates(h, accountId),
    { 'bo@example.com': 'retired', 'side@group.calendar.google.com': 'idle', 'holidays@group.v.calendar.google.com': 'idle' },
    'explicit: the listed calendars on the user list (a retired one comes back); an id not on the list is not registered',
  );
  const side = await h.models.Calendar.findOne({ accountId, googleCalendarId: 'side@group.calendar.google.com' }).lean();
  t.match(side, { state: 'idle', retiredAt: null, pendingFullSync: true }, 'a calendar back from retirement gets a full sync');
});

t.test('the admin API validates discovery policies strictly and changes nothing on bad input', async (t: Test) => {
  const h = await startPushHarness(t, { name: 'discovery-admin', sync: 'recording' });
  const accountId = await h.accountId();
  const listed = await h.app.inject({ method: 'GET', url: '/admin/accounts', headers: AUTH });
  t.match(listed.json(), { accounts: [{ id: accountId, kind: 'oauth', discovery: { policy: 'none' } }] }, 'accounts registered by hand discover nothing by default');
  const bad: unknown[] = [
    { policy: 'everything' },
    { policy: 'explicit' },
    { policy: 'explicit', calendarIds: [] },
    { policy: 'explicit', calendarIds: ['a@x', 'a@x'] },
    { policy: 'explicit', calendarIds: ['a,b@x'] },
    { policy: 'all', calendarIds: ['a@x'] },
    { policy: 'all', onRemoved: 'shred' },
    { policy: 'all', onRemoved: 1 },
    { policy: 'all', extra: true },
    'all',
  ];
  for (const discovery of bad) {
    const res = await patchDiscovery(h, accountId, discovery);
    t.equal(res.statusCode, 400, `${JSON.stringify(discovery)} → 400`);
  }
  t.equal((await h.app.inject({ method: 'PATCH', url: `/admin/accounts/${accountId}`, headers: AUTH, payload: {} })).statusCode, 400, 'no discovery → 400');
  const doc = await accountDoc(h, accountId);
  t.match(doc, { discovery: { policy: 'none' }, discoveryRequests: 0 }, 'nothing changed');
  t.equal((await patchDiscovery(h, new Types.ObjectId().toHexString(), { policy: 'all' })).statusCode, 404);
  t.equal((await h.app.inject({ method: 'PATCH', url: `/admin/accounts/${accountId}`, payload: { discovery: { policy: 'all' } } })).statusCode, 401);
  const badLink = await h.app.inject({ method: 'POST', url: '/admin/connect-links', headers: AUTH, payload: { discovery: { policy: 'explicit' } } });
  t.equal(badLink.statusCode, 400, 'a link with an invalid policy is not minted');
});

t.test('a dead calendarList token (410) recovers with a full list: no duplicates, and calendars missing from the list are dropped', async (t: Test) => {
  const h = await startPushHarness(t, { name: 'discovery-410', sync: 'recording' });
  const sub = h.emu.addUser('cy@example.com', { sub: '3000003' });
  h.emu.shareCalendar(sub, 'cy@example.com', { primary: true });
  h.emu.shareCalendar(sub, 'two@group.calendar.google.com', { accessRole: 'reader' });
  h.emu.shareCalendar(sub, 'three@group.calendar.google.com', { accessRole: 'reader' });
  const accountId = await connectUser(h);
  await h.app.services.discovery.idle();
  t.equal(Object.keys(await calendarStates(h, accountId)).length, 3);

  // The app does not listen here, so this removal sends no ping it could act on: only the full list can find it.
  h.emu.unshareCalendar(sub, 'three@group.calendar.google.com');
  await h.conn.db!.collection('accounts').updateOne({ _id: new Types.ObjectId(accountId) }, { $set: { calendarListSyncToken: 'CLdead-token' } });
  const expiredBefore = await passes(h, 'token_expired');
  await h.app.services.discovery.requestDiscovery(accountId, 'test');
  await h.app.services.discovery.idle();
  t.equal(await passes(h, 'token_expired') - expiredBefore, 1, 'the pass recovered from the 410');
  t.same(await calendarStates(h, accountId), { 'cy@example.com': 'idle', 'two@group.calendar.google.com': 'idle', 'three@group.calendar.google.com': 'retired' });
  t.equal(await h.models.Calendar.countDocuments({ accountId }), 3, 'no duplicate calendars');
  t.not((await accountDoc(h, accountId))!.calendarListSyncToken, 'CLdead-token', 'a new token replaced the dead one');
});

t.test('two discovery runners racing: one lists, each calendar is created once', async (t: Test) => {
  const h = await startPushHarness(t, { name: 'discovery-race', sync: 'recording' });
  const sub = h.emu.addUser('di@example.com', { sub: '3000004' });
  for (const id of ['di@example.com', 'r1@group.calendar.google.com', 'r2@group.calendar.google.com', 'r3@group.calendar.google.com']) h.emu.shareCalendar(sub, id, { accessRole: 'owner', primary: id === 'di@example.com' });
  // The app's own runner is stopped: only the two racers below work.
  await h.app.services.discovery.close();
  const accountId = await connectUser(h);
  const runner = (owner: string) =>
    new DiscoveryService({
      conn: h.conn,
      clients: h.clients,
      registry: h.push.registry,
      listChannels: new ListChannels({
        Channel: channelModel(h.conn),
        clients: h.clients,
        address: webhookAddress(h.baseUrl),
        ttlSeconds: 3600,
        renewLeadSeconds: 600,
        log: { info() {}, warn() {}, error() {} },
        now: Date.now,
        stopSuperseded: (f) => h.push.channels.stopSuperseded(f),
      }),
      log: h.app.log as never,
      owner,
    });
  const listsBefore = calls(h, 'calendarList.list');
  const watchesBefore = calls(h, 'events.watch');
  const [a, b] = await Promise.all([runner('racer-a').runDue(), runner('racer-b').runDue()]);
  t.equal(a.length + b.length, 1, 'one pass between them');
  t.equal(calls(h, 'calendarList.list') - listsBefore, 1, 'the list was read once');
  t.equal(await h.models.Calendar.countDocuments({ accountId }), 4, 'each calendar created once');
  t.equal(calls(h, 'events.watch') - watchesBefore, 4, 'one events channel each');
  t.equal(calls(h, 'calendarList.watch'), 1, 'one calendarList channel');
});

t.test('calendarList pings are verified like event pings: a forged one is rejected and requests nothing', async (t: Test) => {
  const h = await startPushHarness(t, { name: 'discovery-ping', sync: 'recording' });
  const sub = h.emu.addUser('ed@example.com', { sub: '3000005' });
  h.emu.shareCalendar(sub, 'ed@example.com', { primary: true });
  const accountId = await connectUser(h);
  await h.app.services.discovery.idle();
  const channel = await channelModel(h.conn).findOne({ accountId, kind: 'calendarList', status: 'active' }).lean();
  t.ok(channel, 'the account has a calendarList channel');
  const real = h.emu.channels().find((c) => c.id === channel!._id)!;
  const ping = (token: string, n: number) =>
    h.app.inject({
      method: 'POST',
      url: '/webhooks/google-calendar',
      headers: { 'x-goog-channel-id': real.id, 'x-goog-channel-token': token, 'x-goog-resource-id': real.resourceId, 'x-goog-resource-state': 'exists', 'x-goog-message-number': String(n) },
    });
  const requestsBefore = (await accountDoc(h, accountId))!.discoveryRequests as number;
  const forged = await ping('forged-token', 50);
  t.equal(forged.statusCode, 403);
  t.equal((await accountDoc(h, accountId))!.discoveryRequests, requestsBefore, 'a forged ping requests nothing');
  t.equal(h.metrics.rejections.get('token_mismatch'), 1);

  const ok = await ping(real.token!, 51);
  t.equal(ok.statusCode, 200);
  t.same(ok.json(), { result: 'sync_requested' });
  t.equal((await accountDoc(h, accountId))!.discoveryRequests, requestsBefore + 1, 'a verified ping is recorded before the 200');
});

t.test('the cron safety net asks every discovering account for a pass; the renewal job renews a calendarList channel due for renewal', async (t: Test) => {
  const h = await startPushHarness(t, { name: 'discovery-cron', sync: 'recording' });
  const sub = h.emu.addUser('fay@example.com', { sub: '3000006' });
  h.emu.shareCalendar(sub, 'fay@example.com', { primary: true });
  const accountId = await connectUser(h);
  const byHand = await h.accountId();
  await h.app.services.discovery.idle();
  const Channel = channelModel(h.conn);
  const first = await Channel.findOne({ accountId, kind: 'calendarList', status: 'active' }).lean();
  t.ok(first);

  // Shared while pings were lost (the app does not listen here): the safety net finds it.
  h.emu.shareCalendar(sub, 'missed@group.calendar.google.com', { accessRole: 'reader' });
  t.equal(await h.app.services.discovery.requestAll(), 1, 'one discovering account marked (the hand-registered one discovers nothing)');
  await h.app.services.discovery.idle();
  t.equal((await calendarStates(h, accountId))['missed@group.calendar.google.com'], 'idle');
  t.equal((await accountDoc(h, byHand))!.discoveryRequests, 0);

  // The list channel comes due for renewal: the renew-channels job opens a new one and stops the old.
  await h.conn.db!.collection('accounts').updateOne({ _id: new Types.ObjectId(accountId) }, { $set: { listChannelCheckAt: new Date(0) } });
  await Channel.updateOne({ _id: first!._id }, { $set: { expiration: new Date(Date.now() + 60_000) } });
  const report = await h.app.services.renewChannels();
  t.match(report.listChannels, { marked: 1, passes: 1 });
  const live = await Channel.find({ accountId, kind: 'calendarList', status: 'active' }).lean();
  t.equal(live.length, 1);
  t.not(live[0]!._id, first!._id, 'a new calendarList channel');
  t.equal((await Channel.findById(first!._id).lean())?.status, 'stopped', 'the old one stopped');
  t.ok(h.emu.channels().find((c) => c.id === first!._id)?.stopped, 'stopped at the emulator too');
  t.ok((await accountDoc(h, accountId))!.listChannelCheckAt > new Date(), 'next renewal scheduled');
});
