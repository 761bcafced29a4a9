import t from 'tap';
import { failure, receiver, setup, timed } from './fixtures/harness.js';

const CAL = 'team@example.com';

t.test('watch returns Google\'s channel shape and the first ping is sync #1 with every header', async (t) => {
  const { emu, cal } = await setup(t);
  const rec = await receiver(t);
  const before = Date.now();
  const { data } = await cal.events.watch({
    calendarId: CAL,
    requestBody: { id: 'chan-1', type: 'web_hook', address: rec.url, token: 'verify-me', params: { ttl: '3600' } },
  });
  t.match(data, { kind: 'api#channel', id: 'chan-1', token: 'verify-me' });
  t.type(data.expiration, 'string', 'expiration is an int64 string, as Google sends it');
  const exp = Number(data.expiration);
  t.ok(exp >= before + 3600_000 && exp <= Date.now() + 3600_000);
  t.ok(data.resourceId);
  t.match(data.resourceUri, `/calendar/v3/calendars/${encodeURIComponent(CAL)}/events`);
  await emu.flushPings();
  t.equal(rec.pings.length, 1);
  const ping = rec.pings[0]!;
  t.equal(ping.body, '', 'pings have no body');
  t.match(ping.headers, {
    'x-goog-channel-id': 'chan-1',
    'x-goog-message-number': '1',
    'x-goog-resource-id': data.resourceId!,
    'x-goog-resource-state': 'sync',
    'x-goog-resource-uri': data.resourceUri!,
    'x-goog-channel-token': 'verify-me',
    'x-goog-channel-expiration': new Date(exp).toUTCString(),
  });
  t.match(ping.headers['x-goog-channel-expiration'], /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/, 'RFC 1123 date');
});

t.test('each change sends an exists ping with increasing, non-consecutive message numbers', async (t) => {
  const { emu, cal } = await setup(t);
  const rec = await receiver(t);
  await cal.events.watch({ calendarId: CAL, requestBody: { id: 'chan-2', type: 'web_hook', address: rec.url } });
  const { data: ev } = await cal.events.insert({ calendarId: CAL, requestBody: timed('a') });
  await cal.events.patch({ calendarId: CAL, eventId: ev.id!, requestBody: { summary: 'b' } });
  emu.deleteEvent(CAL, ev.id!);
  await emu.flushPings();
  const numbers = rec.pings.map((p) => p.number).sort((a, b) => a - b);
  t.equal(rec.pings.filter((p) => p.state === 'sync').length, 1);
  t.same(rec.pings.filter((p) => p.state === 'exists').length, 3);
  t.equal(numbers[0], 1);
  for (let i = 1; i < numbers.length; i++) t.ok(numbers[i]! > numbers[i - 1]! + 1, `gap before #${numbers[i]}`);
  t.notOk(rec.pings.some((p) => 'x-goog-channel-token' in p.headers), 'no token header when none was set');
});

t.test('a change on another calendar does not ping this channel', async (t) => {
  const { emu, cal } = await setup(t);
  const rec = await receiver(t);
  emu.createCalendar('other@example.com');
  await cal.events.watch({ calendarId: CAL, requestBody: { id: 'chan-3', type: 'web_hook', address: rec.url } });
  emu.insertEvent('other@example.com', timed('x'));
  await emu.flushPings();
  t.same(rec.pings.map((p) => p.state), ['sync']);
});

t.test('after channels.stop nothing more is delivered, and stopping again is 404', async (t) => {
  const { emu, cal } = await setup(t);
  const rec = await receiver(t);
  const { data } = await cal.events.watch({ calendarId: CAL, requestBody: { id: 'chan-4', type: 'web_hook', address: rec.url } });
  await emu.flushPings();
  const stop = await cal.channels.stop({ requestBody: { id: 'chan-4', resourceId: data.resourceId! } });
  t.equal(stop.status, 204);
  emu.insertEvent(CAL, timed('after stop'));
  await emu.flushPings();
  t.same(rec.pings.map((p) => p.state), ['sync']);
  t.same(emu.channels().map((c) => c.stopped), [true]);
  const again = await failure(cal.channels.stop({ requestBody: { id: 'chan-4', resourceId: data.resourceId! } }));
  t.equal(again.status, 404);
  t.equal(again.body.error.errors[0].reason, 'notFound');
});

t.test('channels.stop with an unknown id or the wrong resourceId is 404', async (t) => {
  const { cal } = await setup(t);
  const rec = await receiver(t);
  await cal.events.watch({ calendarId: CAL, requestBody: { id: 'chan-5', type: 'web_hook', address: rec.url } });
  const unknown = await failure(cal.channels.stop({ requestBody: { id: 'nope', resourceId: 'x' } }));
  t.equal(unknown.status, 404);
  const wrong = await failure(cal.channels.stop({ requestBody: { id: 'chan-5', resourceId: 'not-its-resource' } }));
  t.equal(wrong.status, 404);
});

t.test('an expired channel (by the emulator clock) gets no pings', async (t) => {
  let now = Date.UTC(2030, 0, 1);
  const { emu, cal } = await setup(t, { now: () => now });
  const rec = await receiver(t);
  const { data } = await cal.events.watch({ calendarId: CAL, requestBody: { id: 'chan-6', type: 'web_hook', address: rec.url, params: { ttl: '60' } } });
  t.equal(Number(data.expiration), now + 60_000);
  await emu.flushPings();
  now += 61_000;
  emu.insertEvent(CAL, timed('after expiry'));
  await emu.flushPings();
  t.same(rec.pings.map((p) => p.state), ['sync']);
});

t.test('the default TTL is 7 days and longer requests are capped', async (t) => {
  const now = Date.UTC(2030, 0, 1);
  const { cal } = await setup(t, { now: () => now });
  const rec = await receiver(t);
  const def = await cal.events.watch({ calendarId: CAL, requestBody: { id: 'ttl-default', type: 'web_hook', address: rec.url } });
  t.equal(Number(def.data.expiration), now + 604_800_000);
  const long = await cal.events.watch({ calendarId: CAL, requestBody: { id: 'ttl-long', type: 'web_hook', address: rec.url, params: { ttl: String(365 * 86400) } } });
  t.equal(Number(long.data.expiration), now + 2_592_000_000);
});

t.test('watch validates the channel id, type, address, token and uniqueness', async (t) => {
  const { cal } = await setup(t);
  const rec = await receiver(t);
  const base = { id: 'ok-id', type: 'web_hook', address: rec.url };
  const cases: Array<[string, Record<string, unknown>]> = [
    ['id over 64 chars', { ...base, id: 'x'.repeat(65) }],
    ['missing id', { ...base, id: undefined }],
    ['unknown type', { ...base, type: 'carrier_pigeon' }],
    ['bad address', { ...base, address: 'not a url' }],
    ['token over 256 chars', { ...base, token: 't'.repeat(257) }],
    ['bad ttl', { ...base, params: { ttl: 'soon' } }],
  ];
  for (const [name, requestBody] of cases) {
    const res = await failure(cal.events.watch({ calendarId: CAL, requestBody }));
    t.equal(res.status, 400, name);
  }
  await cal.events.watch({ calendarId: CAL, requestBody: { ...base, id: 'x'.repeat(64), token: 't'.repeat(256) } });
  const dup = await failure(cal.events.watch({ calendarId: CAL, requestBody: { ...base, id: 'x'.repeat(64) } }));
  t.equal(dup.status, 400);
  t.equal(dup.body.error.errors[0].reason, 'channelIdNotUnique');
});

t.test('a ping answered 503 is retried until it succeeds', async (t) => {
  const { emu, cal } = await setup(t);
  const rec = await receiver(t);
  let failures = 2;
  rec.respond = (p) => (p.state === 'exists' && failures-- > 0 ? 503 : 200);
  await cal.events.watch({ calendarId: CAL, requestBody: { id: 'chan-7', type: 'web_hook', address: rec.url } });
  emu.insertEvent(CAL, timed('x'));
  await emu.flushPings();
  const exists = rec.pings.filter((p) => p.state === 'exists');
  t.equal(exists.length, 3, 'two 503s, then success');
  t.equal(new Set(exists.map((p) => p.number)).size, 1, 'a retry repeats the message number');
  t.match(emu.pingStats(), { retried: 2, delivered: 2, failed: 0 });
});

t.test('a ping answered 404 is not retried; retries stop after maxAttempts', async (t) => {
  const { emu, cal } = await setup(t, { pings: { retryInitialDelayMs: 1, maxAttempts: 3 } });
  const rec = await receiver(t);
  rec.respond = (p) => (p.state === 'sync' ? 404 : 500);
  await cal.events.watch({ calendarId: CAL, requestBody: { id: 'chan-8', type: 'web_hook', address: rec.url } });
  await emu.flushPings();
  t.equal(rec.pings.length, 1, '404 is final');
  emu.insertEvent(CAL, timed('x'));
  await emu.flushPings();
  t.equal(rec.pings.filter((p) => p.state === 'exists').length, 3, 'bounded attempts on 500');
  t.match(emu.pingStats(), { failed: 2 });
});

t.test('a refused connection is retried, and close() cancels pending retries', async (t) => {
  const { emu, cal } = await setup(t, { pings: { retryInitialDelayMs: 60_000 } });
  // Port 9 on loopback: nothing listens, the connection is refused.
  await cal.events.watch({ calendarId: CAL, requestBody: { id: 'chan-9', type: 'web_hook', address: 'http://127.0.0.1:9/hook' } });
  await new Promise((r) => setTimeout(r, 200));
  t.equal(emu.pingStats().retried, 1, 'first attempt failed and a retry is scheduled');
  const started = Date.now();
  await emu.close();
  await emu.flushPings();
  t.ok(Date.now() - started < 5_000, 'close did not wait for the 60 s retry');
});

t.test('dropRate and duplicateRate shape delivery', async (t) => {
  const { emu, cal } = await setup(t);
  const rec = await receiver(t);
  await cal.events.watch({ calendarId: CAL, requestBody: { id: 'chan-10', type: 'web_hook', address: rec.url } });
  await emu.flushPings();
  const put = (body: object) => fetch(`${emu.url}/emulator/pings`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  t.equal((await put({ dropRate: 1 })).status, 200);
  emu.insertEvent(CAL, timed('dropped'));
  await emu.flushPings();
  t.equal(rec.pings.length, 1, 'dropped');
  t.equal((await put({ dropRate: 0, duplicateRate: 1 })).status, 200);
  emu.insertEvent(CAL, timed('twice'));
  await emu.flushPings();
  const exists = rec.pings.filter((p) => p.state === 'exists');
  t.equal(exists.length, 2);
  t.equal(exists[0]!.number, exists[1]!.number, 'a duplicate carries the same number');
  t.equal((await put({ dropRate: 2 })).status, 400, 'rates outside 0..1 are rejected');
});

t.test('GET /emulator/channels lists channels without their tokens; the in-process helper keeps them', async (t) => {
  const { emu, cal } = await setup(t);
  const rec = await receiver(t);
  await cal.events.watch({ calendarId: CAL, requestBody: { id: 'chan-11', type: 'web_hook', address: rec.url, token: 'secret' } });
  const res = await fetch(`${emu.url}/emulator/channels`);
  const list = (await res.json()) as Array<Record<string, unknown>>;
  t.equal(list.length, 1);
  t.same(Object.keys(list[0]!).sort(), ['address', 'calendarId', 'expiration', 'id', 'resourceId', 'stopped']);
  t.equal(emu.channels()[0]!.token, 'secret');
  await emu.flushPings();
});
