import t from 'tap';
import { startSyncHarness, eventBody } from '../helpers/sync-harness.js';
import { waitFor } from '../helpers/wait-for.js';
import { PRIORITY } from '../../src/sync/priority.js';

t.test('a calendar synced moments ago is not claimed again before SYNC_MIN_INTERVAL_MS has passed', async (t) => {
  const h = await startSyncHarness(t, 'pacing', { SYNC_MIN_INTERVAL_MS: '800' });
  h.seed(3);
  const engine = h.engine();
  const first = await engine.syncCalendar(h.calendarId);
  const firstEnd = first.passes[0]!.finishedAt.getTime();
  const stored = (await h.calendar()).syncNotBefore as Date;
  t.equal(stored.getTime(), firstEnd + 800, 'the pacing time is stored with the calendar, not slept on');

  h.emu.insertEvent(h.gcalId, eventBody(10));
  const second = await engine.syncCalendar(h.calendarId);
  t.equal(second.passes[0]?.mode, 'incremental');
  const started = second.passes[0]!.finishedAt.getTime() - second.passes[0]!.durationMs;
  t.ok(started >= firstEnd + 800, `the next pass started ${started - firstEnd} ms after the previous one ended`);
  await h.assertMirrorExact(t);
});

// An interval far above a loaded machine's request times, so only pacing can explain the figures.
t.test('an isolated change is not delayed: a calendar idle for longer than the interval is claimed at once', async (t) => {
  const h = await startSyncHarness(t, 'pacing-idle', { SYNC_MIN_INTERVAL_MS: '4000' });
  h.seed(3);
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  engine.start();
  await h.models.Calendar.updateOne({ _id: h.calendarId }, { $set: { syncNotBefore: new Date(Date.now() - 1) } });
  h.emu.insertEvent(h.gcalId, eventBody(10));
  const asked = Date.now();
  await engine.requestSync(h.calendarId, { reason: 'ping', priority: PRIORITY.ping });
  await waitFor(() => h.outcomes.length >= 2);
  t.ok(h.outcomes[1]!.finishedAt.getTime() - asked < 4000, 'synced without waiting for the interval');
  await h.assertMirrorExact(t);
});

t.test('pings that arrive during the pacing interval fold into one pass after it', async (t) => {
  const h = await startSyncHarness(t, 'pacing-fold', { SYNC_MIN_INTERVAL_MS: '4000' });
  h.seed(3);
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  engine.start();
  const listsBefore = h.emu.stats()['events.list'] ?? 0;
  for (let i = 0; i < 11; i++) {
    h.emu.insertEvent(h.gcalId, eventBody(30 + i));
    await engine.requestSync(h.calendarId, { reason: 'ping', priority: PRIORITY.ping });
  }
  await waitFor(() => h.outcomes.length >= 2);
  await engine.onIdle();
  const lists = (h.emu.stats()['events.list'] ?? 0) - listsBefore;
  t.equal(lists, 1, 'the 11 pings cost one events.list call: the pass after the interval covers them all');
  await h.assertMirrorExact(t);
});
