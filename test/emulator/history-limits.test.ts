// Limits on how far back a list can reach. Errors guide, "410: Gone": a sync token that is no
// longer valid answers fullSyncRequired, and an updatedMin too far in the past answers
// updatedMinTooLongAgo. Sync guide: sync tokens expire ("for various reasons, including token
// expiration"); here an idle token expires after a configurable time on the emulator's clock
// (default 7 days, as calsync's seed assumed).

import t from 'tap';
import { DEFAULT_HISTORY_LIMITS } from '../../src/emulator/index.js';
import { control, failure, listAllPages, setup, timed } from './fixtures/harness.js';

const CAL = 'team@example.com';
const DAY = 86_400_000;

t.test('updatedMin further back than the history Google keeps answers 410 updatedMinTooLongAgo', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  t.equal(DEFAULT_HISTORY_LIMITS.updatedMinMaxAgeMs, 28 * DAY);
  const tooOld = new Date(emu.now() - 29 * DAY).toISOString();
  const res = await failure(cal.events.list({ calendarId: CAL, updatedMin: tooOld }));
  t.equal(res.status, 410);
  t.same(res.body, {
    error: {
      errors: [{
        domain: 'calendar', reason: 'updatedMinTooLongAgo', message: 'The requested minimum modification time lies too far in the past.',
        locationType: 'parameter', location: 'updatedMin',
      }],
      code: 410,
      message: 'The requested minimum modification time lies too far in the past.',
    },
  });
  const recent = await cal.events.list({ calendarId: CAL, updatedMin: new Date(emu.now() - 27 * DAY).toISOString() });
  t.equal(recent.status, 200, 'within the horizon it answers');
  emu.setLimits({ updatedMinMaxAgeMs: undefined });
  t.equal((await cal.events.list({ calendarId: CAL, updatedMin: tooOld })).status, 200, 'the limit can be lifted');
});

t.test('a sync token unused for longer than its idle limit answers 410 fullSyncRequired', async (t) => {
  const { emu, auth, calNoRetry: cal } = await setup(t, {}, CAL);
  emu.insertEvent(CAL, timed('a'));
  const { nextSyncToken } = await listAllPages(cal, { calendarId: CAL });
  emu.advanceClock(6 * DAY);
  await auth.refreshAccessToken(); // the access token expired with the clock move
  const fresh = await listAllPages(cal, { calendarId: CAL, syncToken: nextSyncToken });
  t.equal(fresh.nextSyncToken, nextSyncToken, 'used after 6 days: still valid, and the use refreshes it');
  emu.advanceClock(6 * DAY);
  await auth.refreshAccessToken();
  t.equal((await cal.events.list({ calendarId: CAL, syncToken: nextSyncToken })).status, 200, '6 more days after its last use: valid');
  emu.advanceClock(7 * DAY + 1);
  await auth.refreshAccessToken();
  const expired = await failure(cal.events.list({ calendarId: CAL, syncToken: nextSyncToken }));
  t.equal(expired.status, 410);
  t.equal(expired.body.error.errors[0].reason, 'fullSyncRequired');
  t.equal(expired.body.error.errors[0].location, 'syncToken');
});

t.test('the limits are set through the control API; null lifts one, bad values get 400', async (t) => {
  const { emu, auth, calNoRetry: cal } = await setup(t);
  t.same((await control(`${emu.url}/emulator/limits`, 'GET')).body, { syncTokenIdleMs: 7 * DAY, updatedMinMaxAgeMs: 28 * DAY });
  const set = await control(`${emu.url}/emulator/limits`, 'PUT', { syncTokenIdleMs: 1000, updatedMinMaxAgeMs: null });
  t.same(set.body, { syncTokenIdleMs: 1000, updatedMinMaxAgeMs: null });
  for (const body of [{ syncTokenIdleMs: 0 }, { syncTokenIdleMs: 'soon' }, { other: 1 }]) {
    t.equal((await control(`${emu.url}/emulator/limits`, 'PUT', body)).status, 400, JSON.stringify(body));
  }
  const { nextSyncToken } = await listAllPages(cal, { calendarId: CAL });
  await control(`${emu.url}/emulator/clock`, 'POST', { advanceMs: 1001 });
  await auth.refreshAccessToken();
  t.equal((await failure(cal.events.list({ calendarId: CAL, syncToken: nextSyncToken }))).status, 410);
  await control(`${emu.url}/emulator/reset`, 'POST');
  t.same((await control(`${emu.url}/emulator/limits`, 'GET')).body, { syncTokenIdleMs: 7 * DAY, updatedMinMaxAgeMs: 28 * DAY }, 'reset restores the defaults');
});
