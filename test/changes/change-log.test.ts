import t from 'tap';
import { Types } from 'mongoose';
import { ChangeFeed, type FeedChange } from '../../src/changes/change-feed.js';
import { storePage } from '../../src/sync/mirror-writer.js';
import { startSyncHarness, type SyncHarness } from '../helpers/sync-harness.js';
import { mirrorEtags, replayFeed, sorted } from '../helpers/feed-replay.js';

const DAY_MS = 86_400_000;

async function readAll(feed: ChangeFeed, after?: string): Promise<{ changes: FeedChange[]; next: string }> {
  const changes: FeedChange[] = [];
  let cursor = after;
  for (;;) {
    const page = await feed.read({ after: cursor, limit: 7 });
    changes.push(...page.changes);
    cursor = page.nextCursor;
    if (page.changes.length === 0) return { changes, next: cursor };
  }
}

const feedOf = (h: SyncHarness, now?: () => Date) => new ChangeFeed(h.db.conn, { retentionMs: 7 * DAY_MS, now });

t.test('every mirror change appends one record: created, updated with the fields before and after, deleted', async (t) => {
  const h = await startSyncHarness(t, 'changes-basic');
  const events = h.seed(5);
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  const feed = feedOf(h);
  const first = await readAll(feed);
  t.same(first.changes.map((c) => c.type), Array(5).fill('created'), 'the first full sync appends one created per event');
  t.same(first.changes.map((c) => c.googleEventId).sort(), events.map((e) => e.id).sort());
  t.match(first.changes[0], { calendarId: h.calendarId, event: { id: first.changes[0]!.googleEventId, summary: /event/ } });

  await engine.syncCalendar(h.calendarId);
  t.same((await readAll(feed, first.next)).changes, [], 'a sync that changes nothing appends nothing');

  h.emu.patchEvent(h.gcalId, events[0]!.id!, { summary: 'moved', location: 'room 2' });
  h.emu.deleteEvent(h.gcalId, events[1]!.id!);
  const [added] = h.seed(1, 50);
  await engine.syncCalendar(h.calendarId);
  const second = await readAll(feed, first.next);
  const byId = new Map(second.changes.map((c) => [c.googleEventId, c]));
  t.equal(second.changes.length, 3);
  t.match(byId.get(events[0]!.id!), {
    type: 'updated',
    event: { summary: 'moved' },
    changed: { summary: { before: 'event 0', after: 'moved' }, location: { before: null, after: 'room 2' } },
  });
  t.same(Object.keys(byId.get(events[0]!.id!)!.changed!).sort(), ['location', 'summary'], 'only the fields that changed');
  t.match(byId.get(events[1]!.id!), { type: 'deleted', etag: events[1]!.etag });
  t.notOk(byId.get(events[1]!.id!)!.event, 'a deletion carries no event');
  t.match(byId.get(added!.id!), { type: 'created' });
  t.ok(second.changes.every((c, i, all) => i === 0 || c.cursor !== all[i - 1]!.cursor));
  t.same(sorted(replayFeed([...first.changes, ...second.changes])), sorted(await mirrorEtags(h.models, h.calendarId)), 'replaying the feed gives the mirror');
});

t.test('a 410 full re-sync appends only real differences, and the removals by absence are recorded', async (t) => {
  const h = await startSyncHarness(t, 'changes-410');
  const events = h.seed(12);
  h.emu.setPaging({ maxPageSize: 4 });
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  const feed = feedOf(h);
  const before = await readAll(feed);
  h.emu.patchEvent(h.gcalId, events[2]!.id!, { summary: 'edited before the 410' });
  h.emu.deleteEvent(h.gcalId, events[3]!.id!);
  // Gone from the mirror's view without an incremental deletion reaching us: only absence finds it.
  await h.models.Event.create({ calendarId: new Types.ObjectId(h.calendarId), googleEventId: 'ghost', etag: '"ghost"', data: { id: 'ghost' }, syncedAt: new Date() });
  h.emu.invalidateSyncTokens(h.gcalId);
  const run = await engine.syncCalendar(h.calendarId);
  t.match(run.passes, [{ mode: 'full', fallback: true, status: 'ok' }]);
  const after = await readAll(feed, before.next);
  t.same(
    after.changes.map((c) => [c.googleEventId, c.type]).sort(),
    [[events[2]!.id!, 'updated'], [events[3]!.id!, 'deleted'], ['ghost', 'deleted']].sort(),
    'no updated record for the nine unchanged events',
  );
  t.same(sorted(replayFeed([...before.changes, ...after.changes])), sorted(await mirrorEtags(h.models, h.calendarId)));
});

t.test('a page stored twice (replayed after a crash) appends no duplicates', async (t) => {
  const h = await startSyncHarness(t, 'changes-replay');
  const events = h.seed(3);
  const calendarId = new Types.ObjectId(h.calendarId);
  const page = h.emu.listAllEvents(h.gcalId, { singleEvents: true });
  t.equal(page.length, events.length);
  await storePage(h.models.Event, calendarId, page, { now: new Date(), epoch: 1 });
  // The crash: records written, mirror not. Removing the mirror rows makes the replay see "created" again.
  await h.models.Event.deleteMany({ calendarId });
  await storePage(h.models.Event, calendarId, page, { now: new Date(), epoch: 1 });
  await storePage(h.models.Event, calendarId, page, { now: new Date(), epoch: 1 });
  const all = await readAll(feedOf(h));
  t.equal(all.changes.length, 3, 'one record per (event, etag, type)');
  t.same(sorted(replayFeed(all.changes)), sorted(await mirrorEtags(h.models, h.calendarId)));
});

t.test('a stale writer fenced off the mirror leaves no record the mirror refused', async (t) => {
  const h = await startSyncHarness(t, 'changes-fenced');
  const [ev] = h.seed(1);
  const calendarId = new Types.ObjectId(h.calendarId);
  const old = h.emu.listAllEvents(h.gcalId, { singleEvents: true });
  h.emu.patchEvent(h.gcalId, ev!.id!, { summary: 'newer' });
  const newer = h.emu.listAllEvents(h.gcalId, { singleEvents: true });
  await storePage(h.models.Event, calendarId, newer, { now: new Date(), epoch: 5 });
  await t.rejects(storePage(h.models.Event, calendarId, old, { now: new Date(), epoch: 4 }), { name: 'FencedWriteError' });
  const all = await readAll(feedOf(h));
  t.same(all.changes.map((c) => [c.type, c.etag]), [['created', newer[0]!.etag]], 'the refused older etag is not in the feed');
});

t.test('a cursor older than retention is refused with CURSOR_EXPIRED; a malformed one with BAD_CURSOR', async (t) => {
  const h = await startSyncHarness(t, 'changes-expiry');
  h.seed(2);
  await h.engine().syncCalendar(h.calendarId);
  let now = Date.now();
  const feed = feedOf(h, () => new Date(now));
  const page = await feed.read({ limit: 1 });
  t.equal(page.changes.length, 1);
  t.equal((await feed.read({ after: page.nextCursor, limit: 10 })).changes.length, 1, 'a fresh cursor reads on');
  now += 8 * DAY_MS;
  await t.rejects(feed.read({ after: page.nextCursor, limit: 10 }), { code: 'CURSOR_EXPIRED', statusCode: 410 });
  await t.rejects(feed.read({ after: 'bm90LWEtY3Vyc29y', limit: 10 }), { code: 'BAD_CURSOR', statusCode: 400 });
  const fresh = await feed.read({ limit: 10 });
  t.equal(fresh.changes.length, 2, 'starting again without a cursor reads what is retained');
});
