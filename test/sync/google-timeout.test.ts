// A Google call whose answer does not come must not hold its calendar: it times out
// (GOOGLE_REQUEST_TIMEOUT_MS) and is retried like any transient failure.
import t from 'tap';
import { googleClientBuilder } from '../../src/accounts/calendar-clients.js';
import { loadConfig } from '../../src/config/env.js';
import { testEnv } from '../helpers/config.js';
import { REFRESH_TOKEN, startSyncHarness } from '../helpers/sync-harness.js';

t.test('an events.list answer slower than GOOGLE_REQUEST_TIMEOUT_MS is abandoned and retried, and the sync completes', async (t) => {
  const h = await startSyncHarness(t, 'google-timeout');
  const config = loadConfig(testEnv({ GOOGLE_API_ROOT_URL: h.emu.url, GOOGLE_OAUTH_TOKEN_URL: h.emu.tokenUrl, GOOGLE_REQUEST_TIMEOUT_MS: '1000' }));
  // The production client builder, as the server wires it from the config.
  const api = googleClientBuilder(config.google)({ kind: 'oauth', refreshToken: REFRESH_TOKEN });
  h.seed(3);
  // The first events.list answers after 5 s; the next ones at once.
  h.emu.addFault({ method: 'events.list', latencyMs: 5_000, count: 1 });
  const run = await h.engine({ clientFor: () => api, sleep: async () => undefined }).syncCalendar(h.calendarId);
  t.match(run.passes, [{ mode: 'full', status: 'ok', retries: 1, apiCalls: 2 }], 'the slow call timed out and was retried');
  await h.assertMirrorExact(t);
});

t.test('GOOGLE_REQUEST_TIMEOUT_MS is validated at boot', async (t) => {
  t.throws(() => loadConfig(testEnv({ GOOGLE_REQUEST_TIMEOUT_MS: '10' })), /GOOGLE_REQUEST_TIMEOUT_MS/);
  t.equal(loadConfig(testEnv({})).google.requestTimeoutMs, 60_000, 'a minute by default');
});
