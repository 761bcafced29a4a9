import t from 'tap';
import { startSyncHarness, eventBody } from '../helpers/sync-harness.js';
import type { Sleep } from '../../src/sync/backoff.js';

t.test('a calendar synced moments ago waits out SYNC_MIN_INTERVAL_MS before the next pass', async (t) => {
  const h = await startSyncHarness(t, 'pacing', { SYNC_MIN_INTERVAL_MS: '800' });
  h.seed(3);
  const waits: number[] = [];
  const sleep: Sleep = async (ms) => void waits.push(ms);
  const engine = h.engine({ sleep });

  await engine.syncCalendar(h.calendarId);
  t.same(waits, [], 'the first sync of a calendar is not delayed');

  h.emu.insertEvent(h.gcalId, eventBody(10));
  const second = await engine.syncCalendar(h.calendarId);
  t.equal(waits.length, 1, 'the next sync right after waited once');
  t.ok(waits[0]! > 0 && waits[0]! <= 800, `it waited at most the interval (${waits[0]} ms)`);
  t.equal(second.passes[0]?.mode, 'incremental');
  await h.assertMirrorExact(t);
});

t.test('pings that arrive during the pacing wait fold into that one pass', async (t) => {
  const h = await startSyncHarness(t, 'pacing-fold', { SYNC_MIN_INTERVAL_MS: '800' });
  h.seed(3);
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let waiting!: () => void;
  const inWait = new Promise<void>((r) => (waiting = r));
  const sleep: Sleep = async () => {
    waiting();
    await held;
  };
  const engine = h.engine({ sleep });
  await engine.syncCalendar(h.calendarId);
  const listsBefore = h.emu.stats()['events.list'] ?? 0;

  h.emu.insertEvent(h.gcalId, eventBody(20));
  engine.requestSync(h.calendarId, { reason: 'ping' });
  await inWait;
  for (let i = 0; i < 10; i++) {
    h.emu.insertEvent(h.gcalId, eventBody(30 + i));
    engine.requestSync(h.calendarId, { reason: 'ping' });
  }
  release();
  await engine.onIdle();
  const lists = (h.emu.stats()['events.list'] ?? 0) - listsBefore;
  t.equal(lists, 1, 'the 11 pings cost one events.list call: the pass after the wait covers them all');
  await h.assertMirrorExact(t);
});

t.test('a minimum interval longer than half the lease is refused at boot', async (t) => {
  const { loadConfig } = await import('../../src/config/env.js');
  const { testEnv } = await import('../helpers/config.js');
  t.throws(() => loadConfig(testEnv({ SYNC_MIN_INTERVAL_MS: '40000', SYNC_LEASE_SECONDS: '60' })), /SYNC_MIN_INTERVAL_MS must be at most half of SYNC_LEASE_SECONDS/);
});
