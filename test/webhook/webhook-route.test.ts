import t from 'tap';
import { PRIORITY } from '../../src/sync/priority.js';
import type { Test } from 'tap';
import { channelModel } from '../../src/channels/channel-model.js';
import { sha256Hex } from '../../src/crypto/hash.js';
import type { RejectionReason } from '../../src/webhook/ping.js';
import { buildApp } from '../../src/app.js';
import { loggerOptions } from '../../src/logger.js';
import { startPushHarness, type PushHarness } from '../helpers/push-harness.js';

const URL = '/webhooks/google-calendar';

interface Ctx {
  h: PushHarness;
  calendarId: string;
  channel: { id: string; resourceId: string; token: string };
  next: () => number;
}

/** A registered calendar with an active channel, pings recorded instead of synced. */
async function setup(tt: Test, name: string, env: Record<string, string> = {}): Promise<Ctx> {
  const h = await startPushHarness(tt, { name, sync: 'recording', env });
  const calendarId = await h.registerCalendar(`${name}@group.calendar.google.com`);
  const [ch] = h.emu.channels();
  if (!ch?.token) throw new Error('no channel was opened at the emulator');
  h.recording.requests.length = 0;
  let n = 10;
  return { h, calendarId, channel: { id: ch.id, resourceId: ch.resourceId, token: ch.token }, next: () => ++n };
}

function pingHeaders(c: Ctx, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = {
    'x-goog-channel-id': c.channel.id,
    'x-goog-channel-token': c.channel.token,
    'x-goog-resource-id': c.channel.resourceId,
    'x-goog-resource-state': 'exists',
    'x-goog-message-number': String(c.next()),
    'x-goog-resource-uri': 'https://www.googleapis.com/calendar/v3/calendars/x/events',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined));
}

t.test('a verified change ping asks for a sync of its calendar and answers 200 at once', async (t) => {
  const c = await setup(t, 'wh-change');
  const res = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c) });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { result: 'sync_requested' });
  t.same(c.h.recording.requests, [{ calendarId: c.calendarId, reason: 'ping', priority: PRIORITY.ping }]);
  t.equal(c.h.metrics.outcomes.get('sync_requested'), 1);
});

t.test('not_exists also asks for a sync; a sync-state ping is only acknowledged', async (t) => {
  const c = await setup(t, 'wh-states');
  const gone = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c, { 'x-goog-resource-state': 'not_exists' }) });
  t.equal(gone.statusCode, 200);
  const sync = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c, { 'x-goog-resource-state': 'sync' }) });
  t.equal(sync.statusCode, 200);
  t.same(sync.json(), { result: 'acknowledged' });
  t.equal(c.h.recording.requests.length, 1, 'only the not_exists ping asked for a sync');
});

t.test('a repeated or older message number is counted once, and still asks for a (coalesced) sync', async (t) => {
  const c = await setup(t, 'wh-stale');
  const first = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c, { 'x-goog-message-number': '50' }) });
  const again = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c, { 'x-goog-message-number': '50' }) });
  const older = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c, { 'x-goog-message-number': '49' }) });
  t.same([first.statusCode, again.statusCode, older.statusCode], [200, 200, 200]);
  t.same(first.json(), { result: 'sync_requested' });
  t.same(again.json(), { result: 'stale' });
  t.same(older.json(), { result: 'stale' });
  t.equal(c.h.recording.requests.length, 3, 'a message number never suppresses a change ping; the scheduler coalesces');
  t.equal(c.h.metrics.outcomes.get('stale'), 2, 'replays are counted as such');
  const doc = await channelModel(c.h.conn).findById(c.channel.id).lean();
  t.equal(doc?.lastMessageNumber, 50, 'the highest number is kept');
  const sync = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c, { 'x-goog-message-number': '50', 'x-goog-resource-state': 'sync' }) });
  t.same(sync.json(), { result: 'stale' });
  t.equal(c.h.recording.requests.length, 3, 'a sync-state ping asks for nothing');
});

t.test('a message number pinned high by a token holder does not mute the channel', async (t) => {
  const c = await setup(t, 'wh-pinned');
  const pinned = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c, { 'x-goog-message-number': '999999999999999' }) });
  t.equal(pinned.statusCode, 200);
  c.h.recording.requests.length = 0;
  const pingedAt = (await channelModel(c.h.conn).findById(c.channel.id).lean())?.lastPingAt;
  c.h.advance(60_000);
  // Google's own next pings carry ordinary numbers.
  for (let i = 0; i < 3; i++) {
    const genuine = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c) });
    t.equal(genuine.statusCode, 200);
  }
  t.same(c.h.recording.requests, Array.from({ length: 3 }, () => ({ calendarId: c.calendarId, reason: 'ping', priority: PRIORITY.ping })), 'every genuine change still asks for a sync');
  const doc = await channelModel(c.h.conn).findById(c.channel.id).lean();
  t.ok(doc?.lastPingAt && pingedAt && doc.lastPingAt > pingedAt, 'lastPingAt still moves');
});

t.test('twenty concurrent deliveries of one message number count it exactly once', async (t) => {
  const c = await setup(t, 'wh-race');
  const headers = pingHeaders(c, { 'x-goog-message-number': '777' });
  const replies = await Promise.all(Array.from({ length: 20 }, () => c.h.app.inject({ method: 'POST', url: URL, headers })));
  t.ok(replies.every((r) => r.statusCode === 200));
  t.equal(c.h.metrics.outcomes.get('sync_requested'), 1);
  t.equal(c.h.metrics.outcomes.get('stale'), 19);
  t.equal((await channelModel(c.h.conn).findById(c.channel.id).lean())?.lastMessageNumber, 777);
});

t.test('unverifiable pings get one uniform 403, change nothing, and are counted by reason', async (t) => {
  const c = await setup(t, 'wh-forged');
  const before = (await channelModel(c.h.conn).findById(c.channel.id).lean())?.lastMessageNumber;
  const cases: Array<[string, Record<string, string | undefined>, string]> = [
    ['forged token', { 'x-goog-channel-token': 'not-the-token' }, 'token_mismatch'],
    ['missing token', { 'x-goog-channel-token': undefined }, 'token_mismatch'],
    ['unknown channel', { 'x-goog-channel-id': '00000000-0000-4000-8000-000000000000' }, 'unknown_channel'],
    ['wrong resource id', { 'x-goog-resource-id': 'some-other-resource' }, 'resource_mismatch'],
  ];
  for (const [name, overrides, reason] of cases) {
    const res = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c, overrides) });
    t.equal(res.statusCode, 403, name);
    t.same(res.json(), { error: { code: 'PING_REJECTED', message: 'ping not verified' } }, `${name}: the answer does not say why`);
    t.ok(c.h.metrics.rejections.has(reason as RejectionReason), `${name} counted as ${reason}`);
  }
  t.same(Object.fromEntries(c.h.metrics.rejections), { token_mismatch: 2, unknown_channel: 1, resource_mismatch: 1 });
  t.equal(c.h.recording.requests.length, 0, 'no sync was requested');
  const doc = await channelModel(c.h.conn).findById(c.channel.id).lean();
  t.equal(doc?.lastMessageNumber, before, 'rejected pings do not move the message number');
});

t.test('pings on an expired or a stopped channel are refused', async (t) => {
  const c = await setup(t, 'wh-expired');
  c.h.advance(3 * 86_400_000);
  const expired = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c) });
  t.equal(expired.statusCode, 403);
  t.equal(c.h.metrics.rejections.get('channel_expired'), 1);

  await channelModel(c.h.conn).updateOne({ _id: c.channel.id }, { $set: { status: 'stopped' } });
  const stopped = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c) });
  t.equal(stopped.statusCode, 403);
  t.equal(c.h.metrics.rejections.get('channel_stopped'), 1);
  t.equal(c.h.recording.requests.length, 0);
});

t.test('missing or malformed headers are a 400 naming the header', async (t) => {
  const c = await setup(t, 'wh-malformed');
  const cases: Array<[Record<string, string | undefined>, string]> = [
    [{ 'x-goog-channel-id': undefined }, 'missing_header'],
    [{ 'x-goog-resource-state': undefined }, 'missing_header'],
    [{ 'x-goog-message-number': 'twelve' }, 'malformed_header'],
    [{ 'x-goog-message-number': '0' }, 'malformed_header'],
    [{ 'x-goog-message-number': '99999999999999999999' }, 'malformed_header'],
    [{ 'x-goog-resource-state': 'deleted' }, 'malformed_header'],
    [{ 'x-goog-channel-id': 'x'.repeat(65) }, 'malformed_header'],
    [{ 'x-goog-channel-id': 'two, ids' }, 'malformed_header'],
    [{ 'x-goog-channel-token': 't'.repeat(257) }, 'malformed_header'],
  ];
  for (const [overrides, reason] of cases) {
    const res = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c, overrides) });
    t.equal(res.statusCode, 400, `${Object.keys(overrides).join()} → ${reason}`);
    t.equal(res.json().error.code, reason.toUpperCase());
  }
  t.equal(c.h.metrics.rejections.get('missing_header'), 2);
  t.equal(c.h.metrics.rejections.get('malformed_header'), 7);
  t.equal(c.h.recording.requests.length, 0);
});

t.test('a ping with a body is refused, a large one with 413, without being verified', async (t) => {
  const c = await setup(t, 'wh-body');
  const small = await c.h.app.inject({ method: 'POST', url: URL, headers: { ...pingHeaders(c), 'content-type': 'application/json' }, payload: '{"a":1}' });
  t.equal(small.statusCode, 400);
  t.equal(small.json().error.code, 'BODY_NOT_ALLOWED');
  const big = await c.h.app.inject({ method: 'POST', url: URL, headers: { ...pingHeaders(c), 'content-type': 'text/plain' }, payload: 'x'.repeat(100_000) });
  t.equal(big.statusCode, 413);
  const oddType = await c.h.app.inject({ method: 'POST', url: URL, headers: { ...pingHeaders(c), 'content-type': 'application/xml' } });
  t.equal(oddType.statusCode, 200, 'an empty ping is fine whatever its content type');
  t.equal(c.h.metrics.rejections.get('body_not_allowed'), 1);
  t.equal(c.h.metrics.rejections.get('payload_too_large'), 1);
  t.equal(c.h.recording.requests.length, 1, 'only the bodyless ping asked for a sync');
});

t.test('other methods get 405 with Allow: POST', async (t) => {
  const c = await setup(t, 'wh-method');
  // Including methods Fastify does not route by default (WebDAV's and others Node's parser knows).
  const methods = ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'SEARCH', 'REPORT', 'LOCK'];
  for (const method of methods) {
    const res = await c.h.app.inject({ method: method as 'GET', url: URL, headers: pingHeaders(c) });
    t.equal(res.statusCode, 405, method);
    t.equal(res.headers.allow, 'POST');
    t.same(res.json(), { error: { code: 'METHOD_NOT_ALLOWED', message: 'use POST' } });
  }
  t.equal(c.h.metrics.rejections.get('method_not_allowed'), methods.length);
  t.equal(c.h.recording.requests.length, 0);
});

t.test('a flood from one source is limited without starving another source', async (t) => {
  const c = await setup(t, 'wh-rate-source', { WEBHOOK_RATE_LIMIT_PER_SOURCE: '5', WEBHOOK_RATE_LIMIT_GLOBAL: '1000' });
  const flood = [];
  for (let i = 0; i < 8; i++) {
    flood.push(await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c), remoteAddress: '203.0.113.9' }));
  }
  t.same(
    flood.map((r) => r.statusCode),
    [200, 200, 200, 200, 200, 429, 429, 429],
  );
  t.ok(Number(flood[7]?.headers['retry-after']) > 0, 'tells when to come back');
  const other = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c), remoteAddress: '198.51.100.7' });
  t.equal(other.statusCode, 200, 'another source still gets through');
  t.equal(c.h.metrics.rejections.get('rate_limited_source'), 3);
});

t.test('a forged X-Forwarded-For does not dodge the per-source limit unless proxies are trusted', async (t) => {
  const c = await setup(t, 'wh-rate-xff', { WEBHOOK_RATE_LIMIT_PER_SOURCE: '2', WEBHOOK_RATE_LIMIT_GLOBAL: '1000' });
  const codes = [];
  for (let i = 0; i < 4; i++) {
    const headers = { ...pingHeaders(c), 'x-forwarded-for': `198.18.0.${i + 1}` };
    codes.push((await c.h.app.inject({ method: 'POST', url: URL, headers, remoteAddress: '203.0.113.50' })).statusCode);
  }
  t.same(codes, [200, 200, 429, 429], 'the socket address counts, not the header');

  const behindProxy = await setup(t, 'wh-rate-xff-proxy', { WEBHOOK_RATE_LIMIT_PER_SOURCE: '2', WEBHOOK_RATE_LIMIT_GLOBAL: '1000', TRUST_PROXY: '10.0.0.0/8' });
  const proxied = [];
  for (let i = 0; i < 4; i++) {
    const headers = { ...pingHeaders(behindProxy), 'x-forwarded-for': `198.18.0.${i + 1}` };
    proxied.push((await behindProxy.h.app.inject({ method: 'POST', url: URL, headers, remoteAddress: '10.0.0.2' })).statusCode);
  }
  t.same(proxied, [200, 200, 200, 200], 'behind a trusted proxy each client address has its own budget');
});

t.test('the global budget is spent by failed requests only, and a handful of flooding sources cannot starve verified pings', async (t) => {
  const c = await setup(t, 'wh-rate-global', { WEBHOOK_RATE_LIMIT_PER_SOURCE: '5', WEBHOOK_RATE_LIMIT_GLOBAL: '10' });
  const google = '192.0.2.1';
  const ping = (remoteAddress: string, overrides: Record<string, string> = {}) =>
    c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c, overrides), remoteAddress });
  t.equal((await ping(google)).statusCode, 200, 'Google delivers a verified ping');

  // Three sources, each within its own per-source limit, flood forged pings: 15 > the budget of 10.
  const flood: number[] = [];
  for (let i = 0; i < 5; i++) for (const attacker of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) flood.push((await ping(attacker, { 'x-goog-channel-token': 'forged' })).statusCode);
  t.same(flood.filter((s) => s === 403).length, 10, 'the first 10 failures are judged (403)');
  t.same(flood.filter((s) => s === 429).length, 5, 'then the budget for failures is spent (429)');

  for (let i = 0; i < 4; i++) {
    const res = await ping(google);
    t.equal(res.statusCode, 200, `verified ping ${i + 1} after the flood still gets through`);
  }
  t.equal(c.h.recording.requests.length, 5, 'and every one asked for a sync');
  const stranger = await ping('203.0.113.77', { 'x-goog-channel-token': 'forged' });
  t.equal(stranger.statusCode, 429, 'an unknown source is turned away before any lookup while the budget is spent');
  t.equal(stranger.json().error.code, 'RATE_LIMITED_GLOBAL');
  t.ok(Number(stranger.headers['retry-after']) > 0);
  t.equal(c.h.metrics.rejections.get('token_mismatch'), 10, 'no forged ping was looked up after the budget was spent');
});

t.test('IPv6 sources are grouped by /64, and one address written several ways is one source', async (t) => {
  const c = await setup(t, 'wh-rate-v6', { WEBHOOK_RATE_LIMIT_PER_SOURCE: '3', WEBHOOK_RATE_LIMIT_GLOBAL: '1000' });
  const from = async (remoteAddress: string) => (await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c), remoteAddress })).statusCode;
  const rotating = ['2001:db8:1:2::1', '2001:db8:1:2::ffff', '2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::42'];
  const rotated = [];
  for (const address of rotating) rotated.push(await from(address));
  t.same(rotated, [200, 200, 200, 429], 'addresses of one /64 share a budget');
  t.equal(await from('2001:db8:1:3::1'), 200, 'the next /64 is another source');

  const spellings = ['203.0.113.9', '::ffff:203.0.113.9', '::ffff:cb00:7109', '203.0.113.9'];
  const codes = [];
  for (const s of spellings) codes.push(await from(s));
  t.same(codes, [200, 200, 200, 429], 'an IPv4 address and its IPv6-mapped spellings are one source');
});

t.test('a sync ping that beats the watch response is accepted and records the resource id', async (t) => {
  const c = await setup(t, 'wh-pending');
  const Channel = channelModel(c.h.conn);
  await Channel.create({
    _id: 'pending-channel-1',
    calendarId: c.calendarId,
    accountId: await c.h.accountId(),
    googleCalendarId: 'x',
    tokenHash: sha256Hex('pending-token'),
    status: 'pending',
  });
  const res = await c.h.app.inject({
    method: 'POST',
    url: URL,
    headers: pingHeaders(c, {
      'x-goog-channel-id': 'pending-channel-1',
      'x-goog-channel-token': 'pending-token',
      'x-goog-resource-id': 'res-pending',
      'x-goog-resource-state': 'sync',
      'x-goog-message-number': '1',
    }),
  });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { result: 'acknowledged' });
  const doc = await Channel.findById('pending-channel-1').lean();
  t.equal(doc?.resourceId, 'res-pending');
  t.equal(doc?.lastMessageNumber, 1);
});

t.test('the token never appears in logs, even for rejected pings', async (t) => {
  const c = await setup(t, 'wh-logs');
  const lines: string[] = [];
  const logger = { ...loggerOptions('debug'), stream: { write: (s: string) => void lines.push(s) } };
  const app = await buildApp({ config: c.h.config, conn: c.h.conn, logger });
  t.teardown(() => app.close());
  await app.inject({ method: 'POST', url: URL, headers: pingHeaders(c) });
  await app.inject({ method: 'POST', url: URL, headers: pingHeaders(c, { 'x-goog-resource-id': 'wrong' }) });
  await app.inject({ method: 'POST', url: URL, headers: pingHeaders(c, { 'x-goog-channel-token': 'forged-secret-value' }) });
  t.ok(lines.some((l) => l.includes('ping rejected')), 'rejections are logged');
  t.notOk(lines.some((l) => l.includes(c.channel.token)), 'the real token is not logged');
  t.notOk(lines.some((l) => l.includes('forged-secret-value')), 'a presented token is not logged either');
});

t.test('rejections and outcomes are exported as Prometheus counters', async (t) => {
  const c = await setup(t, 'wh-prom');
  await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c) });
  await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c, { 'x-goog-channel-token': 'nope' }) });
  await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c, { 'x-goog-channel-token': 'nope' }) });
  const text = (await c.h.app.services.metrics.registry.metrics()).split('\n');
  t.ok(text.includes('calsync_webhook_rejections_total{reason="token_mismatch"} 2'), 'rejections by reason');
  t.ok(text.includes('calsync_webhook_pings_total{result="sync_requested"} 1'), 'accepted pings by result');
  t.ok(text.includes('calsync_webhook_pings_total{result="rejected"} 2'));
});

t.test('when our storage fails while judging a ping the answer is 503 (Google retries) and the server carries on', async (t) => {
  const c = await setup(t, 'wh-storage');
  const receiver = c.h.app.services.receiver;
  const real = receiver.receive.bind(receiver);
  receiver.receive = async () => {
    throw new Error('connection to the database lost');
  };
  const failed = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c) });
  t.equal(failed.statusCode, 503);
  t.same(failed.json(), { error: { code: 'UNAVAILABLE', message: 'try again later' } }, 'no internal detail leaks');
  t.equal(c.h.metrics.failures, 1);
  receiver.receive = real;
  const retried = await c.h.app.inject({ method: 'POST', url: URL, headers: pingHeaders(c) });
  t.equal(retried.statusCode, 200, 'the retry is served once storage is back');
  t.equal(c.h.recording.requests.length, 1);
});
