// Quotas, from Google's usage-limits guide (guides/quota): per minute per project (10,000) and
// per minute per user per project (600), "calculated per minute using a sliding window"; and
// the errors guide's bodies: 403 usageLimits/userRateLimitExceeded "User Rate Limit Exceeded",
// 403 usageLimits/rateLimitExceeded "Rate Limit Exceeded", or 429 rateLimitExceeded.

import t from 'tap';
import { busiestWindow, GOOGLE_QUOTA } from '../../src/emulator/index.js';
import { calendarClient, control, failure, oauthClient, REFRESH_TOKEN, setup, timed } from './fixtures/harness.js';

const CAL = 'team@example.com';
const MINUTE = 60_000;

t.test('quotas are off by default, and turning them on without fields gives Google\'s limits', async (t) => {
  const { emu } = await setup(t);
  t.same((await control(`${emu.url}/emulator/quota`, 'GET')).body, { quota: null });
  const on = await control(`${emu.url}/emulator/quota`, 'PUT', {});
  t.equal(on.status, 200);
  t.same(on.body, { perUserPerMinute: 600, perProjectPerMinute: 10_000, windowMs: 60_000, status: 403 });
  t.same(GOOGLE_QUOTA, on.body);
  t.equal((await control(`${emu.url}/emulator/quota`, 'DELETE')).status, 204);
  t.same((await control(`${emu.url}/emulator/quota`, 'GET')).body, { quota: null });
});

t.test('a user over its per-minute budget gets Google\'s 403 userRateLimitExceeded body; others do not', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  emu.setQuota({ perUserPerMinute: 3, windowMs: MINUTE });
  for (let i = 0; i < 3; i++) t.equal((await cal.events.list({ calendarId: CAL })).status, 200);
  const refused = await failure(cal.events.list({ calendarId: CAL }));
  t.equal(refused.status, 403);
  t.same(refused.body, {
    error: {
      errors: [{ domain: 'usageLimits', reason: 'userRateLimitExceeded', message: 'User Rate Limit Exceeded' }],
      code: 403,
      message: 'User Rate Limit Exceeded',
    },
  });
  emu.addAccount('second-account');
  const other = calendarClient(emu, oauthClient(emu, 'second-account'), false);
  t.equal((await other.events.list({ calendarId: CAL })).status, 200, 'the budget is per user');
});

t.test('the window slides: calls leave the budget one by one as they age past the window', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  emu.setQuota({ perUserPerMinute: 4, windowMs: MINUTE });
  await cal.events.list({ calendarId: CAL });
  await cal.events.list({ calendarId: CAL });
  emu.advanceClock(30_000);
  await cal.events.list({ calendarId: CAL });
  await cal.events.list({ calendarId: CAL });
  t.equal((await failure(cal.events.list({ calendarId: CAL }))).status, 403, 'four calls in the last minute');
  emu.advanceClock(30_001);
  // The two calls from t=0 have left the window, the two from t=30 s have not: a fixed
  // per-minute bucket would allow four here, a sliding window allows two.
  t.equal((await cal.events.list({ calendarId: CAL })).status, 200);
  t.equal((await cal.events.list({ calendarId: CAL })).status, 200);
  t.equal((await failure(cal.events.list({ calendarId: CAL }))).status, 403);
});

t.test('refused calls do not use up budget: a client that waits a window gets a full budget back', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  emu.setQuota({ perUserPerMinute: 2, windowMs: MINUTE });
  await cal.events.list({ calendarId: CAL });
  await cal.events.list({ calendarId: CAL });
  for (let i = 0; i < 5; i++) t.equal((await failure(cal.events.list({ calendarId: CAL }))).status, 403);
  emu.advanceClock(MINUTE);
  t.equal((await cal.events.list({ calendarId: CAL })).status, 200);
  t.equal((await cal.events.list({ calendarId: CAL })).status, 200);
});

t.test('the project budget spans all users and answers 403 rateLimitExceeded', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  emu.setQuota({ perUserPerMinute: 100, perProjectPerMinute: 3, windowMs: MINUTE });
  emu.addAccount('second-account');
  const other = calendarClient(emu, oauthClient(emu, 'second-account'), false);
  await cal.events.list({ calendarId: CAL });
  await other.events.list({ calendarId: CAL });
  await cal.events.list({ calendarId: CAL });
  const refused = await failure(other.events.list({ calendarId: CAL }));
  t.equal(refused.status, 403);
  t.same(refused.body.error.errors, [{ domain: 'usageLimits', reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded' }]);
  t.equal(refused.body.error.message, 'Rate Limit Exceeded');
});

t.test('every API method counts against quota, the token endpoint does not', async (t) => {
  const { emu, auth, calNoRetry: cal } = await setup(t);
  await auth.getAccessToken();
  emu.setQuota({ perUserPerMinute: 6, windowMs: MINUTE });
  const { data: ev } = await cal.events.insert({ calendarId: CAL, requestBody: timed('x') });
  await cal.events.get({ calendarId: CAL, eventId: ev.id! });
  await cal.events.patch({ calendarId: CAL, eventId: ev.id!, requestBody: { summary: 'y' } });
  const w = await cal.events.watch({ calendarId: CAL, requestBody: { id: 'c1', type: 'web_hook', address: 'http://127.0.0.1:9/x' } });
  await cal.channels.stop({ requestBody: { id: 'c1', resourceId: w.data.resourceId! } });
  await cal.events.delete({ calendarId: CAL, eventId: ev.id! });
  t.equal((await failure(cal.events.list({ calendarId: CAL }))).status, 403, 'six calls of six methods spent the budget');
  t.equal((await failure(cal.events.update({ calendarId: CAL, eventId: ev.id!, requestBody: timed('z') }))).status, 403);
  await auth.refreshAccessToken();
  t.equal(emu.stats().token, 2, 'token requests are answered regardless');
});

t.test('status 429 can be chosen instead of 403 (googleapis then retries GETs itself)', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  const res = await control(`${emu.url}/emulator/quota`, 'PUT', { perUserPerMinute: 1, status: 429 });
  t.equal(res.body.status, 429);
  await cal.events.list({ calendarId: CAL });
  const refused = await failure(cal.events.list({ calendarId: CAL }));
  t.equal(refused.status, 429);
  t.same(refused.body.error.errors, [{ domain: 'usageLimits', reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded' }]);
});

t.test('the call log shows each account\'s calls with time and status, never the refresh token', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  const created = await control(`${emu.url}/emulator/accounts`, 'POST', { refreshToken: REFRESH_TOKEN });
  const user = created.body.user as string;
  t.match(user, /^user-[0-9a-f]{12}$/);
  t.equal(emu.addAccount(REFRESH_TOKEN), user, 'the in-process API names the account the same way');
  emu.setQuota({ perUserPerMinute: 2, windowMs: MINUTE });
  const start = emu.now();
  await cal.events.list({ calendarId: CAL });
  await cal.events.list({ calendarId: CAL });
  await failure(cal.events.list({ calendarId: CAL }));
  const res = await control(`${emu.url}/emulator/calls?user=${user}&method=events.list&since=${start}`, 'GET');
  t.equal(res.status, 200);
  t.same(res.body.calls.map((c: { status: number }) => c.status), [200, 200, 403]);
  for (const c of res.body.calls) t.match(c, { method: 'events.list', user, at: Number });
  t.notOk(JSON.stringify((await control(`${emu.url}/emulator/calls`, 'GET')).body).includes(REFRESH_TOKEN));
  const lists = emu.calls(start).filter((c) => c.method === 'events.list');
  t.same(lists.map((c) => c.status), [200, 200, 403], 'same log in-process');
  t.equal(busiestWindow(lists.filter((c) => c.status === 200), MINUTE), 2);
  t.match(emu.calls(start).find((c) => c.method === 'token'), { method: 'token', user, at: Number, status: 200 }, 'token requests are logged too');
});

t.test('busiestWindow counts the most calls in any window, as the quota does', async (t) => {
  const at = (...ms: number[]) => ms.map((m) => ({ at: m }));
  t.equal(busiestWindow([], 1000), 0);
  t.equal(busiestWindow(at(0, 500, 999, 1000, 1999), 1000), 3, '(0, 1000] holds 500, 999, 1000');
  t.equal(busiestWindow(at(3000, 0, 1000, 2000), 1000), 1, 'unsorted input, one call per window');
});

t.test('bad quota settings get 400 and change nothing; reset turns quotas off', async (t) => {
  const { emu } = await setup(t);
  emu.setQuota({ perUserPerMinute: 5 });
  for (const body of [{ perUserPerMinute: 0 }, { windowMs: -1 }, { status: 500 }, { perProjectPerMinute: 1.5 }, { unknown: 1 }]) {
    const res = await control(`${emu.url}/emulator/quota`, 'PUT', body);
    t.equal(res.status, 400, JSON.stringify(body));
  }
  t.equal((await control(`${emu.url}/emulator/quota`, 'GET')).body.quota.perUserPerMinute, 5);
  t.equal((await control(`${emu.url}/emulator/calls?since=yesterday`, 'GET')).status, 400);
  await control(`${emu.url}/emulator/reset`, 'POST');
  t.same((await control(`${emu.url}/emulator/quota`, 'GET')).body, { quota: null });
  t.same(emu.calls(), []);
});
