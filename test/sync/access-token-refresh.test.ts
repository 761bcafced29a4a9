import t from 'tap';
import { startSyncHarness } from '../helpers/sync-harness.js';

t.test('an access token Google stops honouring early is refreshed once and the sync still succeeds', async (t) => {
  const h = await startSyncHarness(t, 'token-refresh');
  h.seed(5);
  const engine = h.engine();
  const first = await engine.syncCalendar(h.calendarId);
  t.equal(first.passes[0]?.status, 'ok');
  const tokenCalls = h.emu.stats().token ?? 0;

  // Google's clock runs past the access token's life while the client still trusts its cached expiry.
  h.emu.advanceClock(2 * 3600_000);
  h.emu.insertEvent(h.gcalId, { summary: 'after expiry', start: { dateTime: new Date(Date.now() + 86_400_000).toISOString() }, end: { dateTime: new Date(Date.now() + 90_000_000).toISOString() } });

  const second = await engine.syncCalendar(h.calendarId);
  t.equal(second.passes[0]?.status, 'ok', 'the sync succeeded');
  t.equal(second.passes[0]?.mode, 'incremental');
  t.equal((h.emu.stats().token ?? 0) - tokenCalls, 1, 'exactly one refresh');
  await h.assertMirrorExact(t);
});
