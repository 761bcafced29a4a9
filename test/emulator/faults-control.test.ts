import t from 'tap';
import { failure, setup, timed } from './fixtures/harness.js';

const CAL = 'team@example.com';

// Bodies are whatever the server sent (Google API or OAuth shape); tests probe them freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function control(url: string, method: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

t.test('a fault with count fails exactly the next N calls of that method, Google-shaped', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  const res = await control(`${emu.url}/emulator/faults`, 'POST', { method: 'events.list', status: 403, count: 2 });
  t.equal(res.status, 201);
  for (let i = 0; i < 2; i++) {
    const f = await failure(cal.events.list({ calendarId: CAL }));
    t.equal(f.status, 403);
    t.same(f.body.error.errors[0], { domain: 'usageLimits', reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded' });
  }
  t.equal((await cal.events.list({ calendarId: CAL })).status, 200, 'the third call succeeds');
  const ins = await cal.events.insert({ calendarId: CAL, requestBody: timed('other methods unaffected') });
  t.equal(ins.status, 200);
});

t.test('fault reasons default by status and can be overridden, with Retry-After', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  emu.addFault({ method: 'events.get', status: 503, count: 1 });
  emu.addFault({ method: 'events.insert', status: 429, count: 1, retryAfter: 7 });
  emu.addFault({ method: 'events.patch', status: 403, reason: 'userRateLimitExceeded', count: 1 });
  emu.addFault({ method: 'events.delete', status: 500, count: 1 });
  const get = await failure(cal.events.get({ calendarId: CAL, eventId: 'abcdef' }));
  t.match(get, { status: 503, body: { error: { code: 503, errors: [{ reason: 'backendError' }] } } });
  const ins = await failure(cal.events.insert({ calendarId: CAL, requestBody: timed('x') }));
  t.match(ins, { status: 429, body: { error: { errors: [{ domain: 'usageLimits', reason: 'rateLimitExceeded' }] } } });
  t.equal(ins.headers['retry-after'], '7');
  const patch = await failure(cal.events.patch({ calendarId: CAL, eventId: 'abcdef', requestBody: {} }));
  t.match(patch.body.error.errors[0], { domain: 'usageLimits', reason: 'userRateLimitExceeded', message: 'User Rate Limit Exceeded' });
  const del = await failure(cal.events.delete({ calendarId: CAL, eventId: 'abcdef' }));
  t.match(del.body.error.errors[0], { reason: 'backendError' });
});

t.test('a 410 fullSyncRequired fault answers with Google\'s exact body', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  emu.addFault({ method: 'events.list', status: 410, reason: 'fullSyncRequired', count: 1 });
  const res = await failure(cal.events.list({ calendarId: CAL }));
  t.equal(res.status, 410);
  t.equal(res.body.error.errors[0].location, 'syncToken');
  t.equal(res.body.error.message, 'Sync token is no longer valid, a full sync is required.');
});

t.test('a fault with rate 1 fails every call and rate 0 none; DELETE clears faults', async (t) => {
  const { emu, auth, calNoRetry: cal } = await setup(t);
  await auth.getAccessToken(); // "*" covers the token endpoint too, whose client retries 5xx with long backoff
  await control(`${emu.url}/emulator/faults`, 'POST', { method: '*', status: 500, rate: 1 });
  t.equal((await failure(cal.events.list({ calendarId: CAL }))).status, 500);
  t.equal((await failure(cal.events.insert({ calendarId: CAL, requestBody: timed('x') }))).status, 500);
  t.equal((await control(`${emu.url}/emulator/faults`, 'DELETE')).status, 204);
  await control(`${emu.url}/emulator/faults`, 'POST', { method: 'events.list', status: 500, rate: 0 });
  for (let i = 0; i < 3; i++) t.equal((await cal.events.list({ calendarId: CAL })).status, 200);
});

t.test('googleapis retries a GET after a transient 503 on its own (the emulator does not hide it)', async (t) => {
  const { emu, cal } = await setup(t);
  emu.addFault({ method: 'events.list', status: 503, count: 1 });
  const { status } = await cal.events.list({ calendarId: CAL });
  t.equal(status, 200);
  t.equal(emu.stats()['events.list'], 2, 'one failure, one retry');
});

t.test('latencyMs delays the answer', async (t) => {
  const { emu, cal } = await setup(t);
  emu.addFault({ method: 'events.list', latencyMs: 150, count: 1 });
  const started = Date.now();
  await cal.events.list({ calendarId: CAL });
  t.ok(Date.now() - started >= 140, 'slow once');
  const again = Date.now();
  await cal.events.list({ calendarId: CAL });
  t.ok(Date.now() - again < 140, 'the spent rule is gone');
});

t.test('a token-endpoint fault answers in OAuth\'s error format', async (t) => {
  const { emu, auth } = await setup(t);
  emu.addFault({ method: 'token', status: 400, reason: 'invalid_grant', count: 1 });
  const res = await failure(auth.getAccessToken());
  t.equal(res.status, 400);
  t.match(res.body, { error: 'invalid_grant' });
});

t.test('stats count calls per googleapis method name', async (t) => {
  const { emu, cal } = await setup(t);
  const { data: ev } = await cal.events.insert({ calendarId: CAL, requestBody: timed('x') });
  await cal.events.list({ calendarId: CAL });
  await cal.events.list({ calendarId: CAL });
  await cal.events.get({ calendarId: CAL, eventId: ev.id! });
  await cal.events.patch({ calendarId: CAL, eventId: ev.id!, requestBody: { summary: 'y' } });
  await cal.events.update({ calendarId: CAL, eventId: ev.id!, requestBody: timed('z') });
  const w = await cal.events.watch({ calendarId: CAL, requestBody: { id: 'c1', type: 'web_hook', address: 'http://127.0.0.1:9/x' } });
  await cal.channels.stop({ requestBody: { id: 'c1', resourceId: w.data.resourceId! } });
  await cal.events.delete({ calendarId: CAL, eventId: ev.id! });
  const expected = {
    'channels.stop': 1, 'events.delete': 1, 'events.get': 1, 'events.insert': 1, 'events.list': 2,
    'events.patch': 1, 'events.update': 1, 'events.watch': 1, token: 1,
  };
  t.same(emu.stats(), expected);
  const res = await control(`${emu.url}/emulator/stats`, 'GET');
  t.same(res.body.calls, expected);
  t.type(res.body.pings.attempts, 'number');
});

t.test('the control API sets up accounts and calendars and rejects bad bodies with 400', async (t) => {
  const { emu } = await setup(t);
  const bad: Array<[string, string, unknown]> = [
    ['/emulator/accounts', 'POST', {}],
    ['/emulator/accounts', 'POST', { refreshToken: 42 }],
    ['/emulator/calendars', 'POST', { id: '' }],
    ['/emulator/calendars', 'POST', { id: 'x', unknownField: true }],
    ['/emulator/calendars', 'POST', { id: 'x', timeZone: 'Mars/Olympus' }],
    ['/emulator/faults', 'POST', { method: 'events.list', status: 200 }],
    ['/emulator/faults', 'POST', { method: 'events.list', status: 500, rate: 1.5 }],
    ['/emulator/faults', 'POST', { method: 'events.list' }],
    ['/emulator/paging', 'PUT', { maxPageSize: 0 }],
    ['/emulator/clock', 'POST', { advanceMs: -1 }],
  ];
  for (const [path, method, body] of bad) {
    const res = await control(`${emu.url}${path}`, method, body);
    t.equal(res.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
  }
  t.equal((await control(`${emu.url}/emulator/accounts`, 'POST', { refreshToken: 'rt-2' })).status, 201);
  const created = await control(`${emu.url}/emulator/calendars`, 'POST', { id: 'new@example.com', timeZone: 'Europe/Paris' });
  t.equal(created.status, 201);
  t.match(created.body, { id: 'new@example.com', timeZone: 'Europe/Paris' });
  t.equal((await control(`${emu.url}/emulator/calendars/unknown/invalidate-sync-tokens`, 'POST')).status, 404);
});

t.test('the bulk endpoint inserts many events with a single ping', async (t) => {
  const { emu } = await setup(t);
  const res = await control(`${emu.url}/emulator/calendars/${encodeURIComponent(CAL)}/events:bulk`, 'POST', {
    events: Array.from({ length: 50 }, (_, i) => timed(`e${i}`, i)),
  });
  t.equal(res.status, 201);
  t.equal(res.body.count, 50);
  const list = await control(`${emu.url}/emulator/calendars/${encodeURIComponent(CAL)}/events`, 'GET');
  t.equal(list.body.items.length, 50);
  const bad = await control(`${emu.url}/emulator/calendars/${encodeURIComponent(CAL)}/events:bulk`, 'POST', { events: [{ summary: 'no times' }] });
  t.equal(bad.status, 400);
});

t.test('advancing the clock through the control API expires access tokens', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  await cal.events.list({ calendarId: CAL });
  const res = await control(`${emu.url}/emulator/clock`, 'POST', { advanceMs: 3600_000 });
  t.equal(res.status, 200);
  t.equal((await failure(cal.events.list({ calendarId: CAL }))).status, 401);
});

t.test('reset clears calendars, accounts, channels, faults and stats', async (t) => {
  const { emu, cal } = await setup(t);
  emu.insertEvent(CAL, timed('x'));
  emu.addFault({ method: 'events.get', status: 500 });
  await cal.events.list({ calendarId: CAL });
  t.equal((await control(`${emu.url}/emulator/reset`, 'POST')).status, 204);
  t.same(emu.stats(), {});
  t.same(emu.channels(), []);
  t.equal((await control(`${emu.url}/emulator/faults`, 'GET')).body.faults.length, 0);
  t.equal((await control(`${emu.url}/emulator/calendars/${encodeURIComponent(CAL)}/events`, 'GET')).status, 404);
  t.equal((await failure(cal.events.list({ calendarId: CAL }))).status, 401, 'old access tokens are gone');
});
