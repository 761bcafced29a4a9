import t, { type Test } from 'tap';
import { Types } from 'mongoose';
import { CalendarViews } from '../../src/calendars/calendar-views.js';
import { calendarModel } from '../../src/models/calendar.js';
import { numberUnlistedCalendars } from '../../src/models/list-position.js';
import { openSyncTestDb } from '../helpers/sync-db.js';

async function setup(t: Test, name: string) {
  const { conn } = await openSyncTestDb(t, name);
  const Calendar = calendarModel(conn);
  await Calendar.init();
  const views = new CalendarViews(conn, { renewLeadSeconds: 3600 });
  // The filter of every calendar read (mongoose's debug hook sees each query as sent).
  const reads: Record<string, unknown>[] = [];
  conn.set('debug', (collection: string, method: string, filter: unknown) => {
    if (collection === 'calendars' && method === 'find') reads.push(filter as Record<string, unknown>);
  });
  return { conn, Calendar, views, reads };
}

const calendar = (i: number, state: string) => ({ _id: new Types.ObjectId(), accountId: new Types.ObjectId(), googleCalendarId: `cal-${i}@x`, state });
const hex = (docs: { _id: Types.ObjectId }[]) => docs.map((d) => d._id.toHexString());

async function all(views: CalendarViews, query: { limit: number; state?: string }) {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await views.page({ ...query, cursor });
    ids.push(...page.calendars.map((c) => c.id));
    cursor = page.nextCursor ?? undefined;
    pages++;
  } while (cursor && pages < 500);
  return ids;
}

t.test('pages are exact across a fleet with gaps and a rare state, each read a bounded window of positions', async (t) => {
  const { Calendar, views, reads } = await setup(t, 'list-positions-pages');
  // 400 calendars; every 97th needs attention, every 3rd failed; a run of 120 and every 7th removed (gaps).
  const docs = Array.from({ length: 400 }, (_, i) => calendar(i, i % 97 === 5 ? 'needs_attention' : i % 3 === 0 ? 'failed' : 'idle'));
  await Calendar.insertMany(docs);
  const isRemoved = (i: number) => (i >= 150 && i < 270) || i % 7 === 0;
  await Calendar.deleteMany({ _id: { $in: docs.filter((_, i) => isRemoved(i)).map((d) => d._id) } });
  const kept = docs.filter((_, i) => !isRemoved(i));

  t.same(await all(views, { limit: 9 }), hex(kept), 'every calendar once, in registration order');
  for (const state of ['failed', 'needs_attention', 'syncing']) {
    t.same(await all(views, { limit: 4, state }), hex(kept.filter((d) => d.state === state)), `only and every calendar in state ${state}`);
  }

  // A page deep in the list reads a window about the page's size, not everything after the cursor.
  let cursor = (await views.page({ limit: 9 })).nextCursor!;
  for (let i = 0; i < 15; i++) cursor = (await views.page({ limit: 9, cursor })).nextCursor!;
  reads.length = 0;
  t.equal((await views.page({ limit: 9, cursor })).calendars.length, 9);
  t.ok(reads.length >= 1);
  for (const filter of reads) {
    const range = filter.listSeq as { $gt?: unknown; $lte?: unknown } | undefined;
    t.ok(typeof range?.$gt === 'number' && typeof range.$lte === 'number', `a range bounded on both sides: ${JSON.stringify(filter)}`);
    t.ok(Number(range?.$lte) - Number(range?.$gt) <= 40, `a window near the page size: ${JSON.stringify(filter)}`);
  }
});

t.test('a v1 cursor from before list positions continues after its calendar', async (t) => {
  const { Calendar, views } = await setup(t, 'list-positions-v1');
  const docs = Array.from({ length: 12 }, (_, i) => calendar(i, 'idle'));
  await Calendar.insertMany(docs);
  const v1 = (id: Types.ObjectId) => Buffer.from(`v1:${id.toHexString()}`).toString('base64url');
  const next = await views.page({ limit: 3, cursor: v1(docs[4]!._id) });
  t.same(next.calendars.map((c) => c.id), hex(docs.slice(5, 8)));
  await Calendar.deleteOne({ _id: docs[4]!._id });
  const afterRemoved = await views.page({ limit: 3, cursor: v1(docs[4]!._id) });
  t.same(afterRemoved.calendars.map((c) => c.id), hex(docs.slice(5, 8)), 'its calendar removed: in _id order from there');
});

t.test('calendars stored without a list position are numbered once by racing replicas', async (t) => {
  const { conn, Calendar, views } = await setup(t, 'list-positions-migrate');
  const listed = Array.from({ length: 3 }, (_, i) => calendar(i, 'idle'));
  await Calendar.insertMany(listed);
  // Written before positions existed (or around the model): no listSeq.
  const legacy = Array.from({ length: 25 }, (_, i) => calendar(100 + i, i % 2 ? 'failed' : 'idle'));
  await conn.collection('calendars').insertMany(legacy);
  t.equal((await views.page({ limit: 100 })).calendars.length, 3, 'not listed before they are numbered');

  const [a, b] = await Promise.all([numberUnlistedCalendars(conn, 10), numberUnlistedCalendars(conn, 10)]);
  t.equal(a + b, 25, 'each calendar numbered by exactly one replica');
  t.equal(await numberUnlistedCalendars(conn), 0, 'nothing left to number');
  const positions = (await Calendar.find().select({ listSeq: 1 }).lean()).map((d) => d.listSeq);
  t.equal(new Set(positions).size, 28, 'positions are unique');

  const ids = await all(views, { limit: 4 });
  t.same(ids.slice(0, 3), hex(listed));
  t.same(new Set(ids.slice(3)), new Set(hex(legacy)), 'the numbered calendars are listed after, each once');
  t.equal(ids.length, 28);
  t.same(new Set(await all(views, { limit: 2, state: 'failed' })), new Set(hex(legacy.filter((d) => d.state === 'failed'))));
});
