import t from 'tap';
import { channelModel } from '../../src/channels/channel-model.js';
import { PRIORITY } from '../../src/sync/priority.js';
import { startPushHarness } from '../helpers/push-harness.js';
import { waitFor } from '../helpers/wait-for.js';

const URL = '/webhooks/google-calendar';

// The webhook's hot path, operation by operation: under a ping storm every ping pays for these, and
// on a database that serializes writes per collection (SecantusDB here) a write costs several reads.
t.test('a ping for a calendar whose sync is already pending costs a channel read, one channel write and a calendar read', async (t) => {
  // Long pacing and poll: after the first ping the calendar stays pending, and nothing else reads it.
  const h = await startPushHarness(t, { name: 'ping-db-work', env: { SYNC_MIN_INTERVAL_MS: '60000', SYNC_POLL_MS: '60000' } });
  const calendarId = await h.registerCalendar('ping-db-work@group.calendar.google.com');
  await waitFor(async () => Boolean((await h.models.Calendar.findById(calendarId, { lastSyncedAt: 1 }).lean())?.lastSyncedAt));
  await h.engine!.onIdle();
  const [ch] = h.emu.channels();
  if (!ch?.token) throw new Error('no channel was opened');
  const ping = async (n: number) => {
    const res = await h.app.inject({
      method: 'POST',
      url: URL,
      headers: {
        'x-goog-channel-id': ch.id,
        'x-goog-channel-token': ch.token!,
        'x-goog-resource-id': ch.resourceId,
        'x-goog-resource-state': 'exists',
        'x-goog-message-number': String(n),
      },
    });
    t.equal(res.statusCode, 200);
    return (res.json() as { result: string }).result;
  };

  t.equal(await ping(10), 'sync_requested', 'the first change ping records a request (the calendar is paced, so it stays pending)');
  const cal = await h.models.Calendar.findById(calendarId, { requests: 1, priority: 1 }).lean();
  t.equal(cal?.priority, PRIORITY.ping);

  /** The operations `fn` sends to the channels and calendars collections. */
  const opsOf = async (fn: () => Promise<unknown>): Promise<string[]> => {
    const ops: string[] = [];
    h.conn.set('debug', (collection: string, method: string) => {
      if (collection === 'channels' || collection === 'calendars') ops.push(`${collection}.${method}`);
    });
    try {
      await fn();
    } finally {
      h.conn.set('debug', false);
    }
    return ops;
  };
  const lastPingAt = async () => (await channelModel(h.conn).findById(ch.id, { lastPingAt: 1 }).lean())?.lastPingAt?.getTime() ?? 0;
  const firstPingAt = await lastPingAt();

  h.advance(1_000);
  const results: string[] = [];
  const storm = await opsOf(async () => results.push(await ping(12), await ping(11), await ping(12)));
  t.same(results, ['sync_requested', 'stale', 'stale'], 'a newer number counts, an older or repeated one is stale');
  const perPing = ['channels.findOne', 'channels.updateOne', 'calendars.findOne'];
  t.same(storm, [...perPing, ...perPing, ...perPing], 'each ping: channel read, one message-number write, calendar read; no calendar write');
  t.ok((await lastPingAt()) >= firstPingAt + 1_000, 'the counted ping moved lastPingAt');

  h.advance(1_500);
  const pingedBefore = await lastPingAt();
  t.same(await opsOf(() => ping(12)), ['channels.findOne', 'channels.updateOne', 'channels.updateOne', 'calendars.findOne'], 'a stale ping a second or more after the last one also writes lastPingAt');
  t.ok((await lastPingAt()) >= pingedBefore + 1_500, 'lastPingAt moved');
  t.equal((await channelModel(h.conn).findById(ch.id, { lastMessageNumber: 1 }).lean())?.lastMessageNumber, 12, 'the highest number is kept');
  t.match(await h.models.Calendar.findById(calendarId, { requests: 1, priority: 1 }).lean(), { requests: cal?.requests, priority: PRIORITY.ping }, 'the pending request covers them');
});
