import t from 'tap';
import mongoose, { Types } from 'mongoose';
import { ChangeFeed } from '../../src/changes/change-feed.js';
import { changeModel } from '../../src/changes/change-model.js';
import { testDbUri } from '../helpers/db.js';

// The feed reads in windows of positions (src/changes/change-feed.ts): SecantusDB reads every record
// of a queried range before `limit`, so a reader far behind must not query its whole backlog.

const conn = await mongoose.createConnection(testDbUri('feed-windows')).asPromise();
t.teardown(() => conn.close());
await conn.dropDatabase();
const Change = changeModel(conn);
await Change.init();
const feed = new ChangeFeed(conn, { retentionMs: 86_400_000 });

const calA = new Types.ObjectId();
const calB = new Types.ObjectId();
// 1..600 dense, alternating calendars; a gap (removed records) 601..5000; then 5001..5030 of calendar A.
const seqs = [...Array.from({ length: 600 }, (_, i) => i + 1), ...Array.from({ length: 30 }, (_, i) => 5001 + i)];
await Change.insertMany(
  seqs.map((seq) => ({ seq, calendarId: seq > 5000 || seq % 2 === 0 ? calA : calB, googleEventId: `e${seq}`, type: 'created', etag: `x${seq}`, seenAt: new Date() })),
);

/** Runs `read` and returns how many records the ranges it queried held in total. */
async function recordsInQueriedRanges(read: () => Promise<unknown>): Promise<number> {
  const ranges: Array<Record<string, unknown>> = [];
  const find = Change.find.bind(Change);
  (Change as unknown as { find: unknown }).find = (filter: Record<string, unknown>, ...rest: unknown[]) => {
    ranges.push(filter);
    return (find as (...a: unknown[]) => unknown)(filter, ...rest);
  };
  try {
    await read();
  } finally {
    (Change as unknown as { find: unknown }).find = find;
  }
  let held = 0;
  for (const filter of ranges) held += await Change.countDocuments(filter);
  return held;
}

t.test('a reader far behind gets the next records in order, and queries little more than it reads', async (t) => {
  let rows: Array<{ seq: number }> = [];
  const held = await recordsInQueriedRanges(async () => (rows = await feed.records({ after: 0, limit: 50, upTo: 5030 })));
  t.same(
    rows.map((r) => r.seq),
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
  t.ok(held <= 100, `the queried ranges held ${held} records for a read of 50 (the backlog is 630)`);
});

t.test('gaps and a calendar filter: the same records as one query over the whole range', async (t) => {
  const all = (await Change.find({ seq: { $gt: 0 } }).sort({ seq: 1 }).lean()).map((r) => ({ seq: r.seq, cal: String(r.calendarId) }));
  for (const [after, limit, cal] of [
    [590, 20, undefined],
    [0, 1000, undefined],
    [600, 5, undefined],
    [0, 400, calA],
    [550, 40, calA],
    [0, 10, calB],
    [5030, 10, undefined],
  ] as const) {
    const expected = all.filter((r) => r.seq > after && (!cal || r.cal === String(cal))).slice(0, limit).map((r) => r.seq);
    const got = (await feed.records({ after, limit, upTo: 5030, calendarId: cal ? String(cal) : undefined })).map((r) => r.seq);
    t.same(got, expected, `after ${after}, limit ${limit}${cal ? ', one calendar' : ''}`);
  }
  t.same(await feed.records({ after: 0, limit: 10, upTo: 0 }), [], 'nothing visible, nothing read');
  t.same(
    (await feed.records({ after: 0, limit: 10, upTo: 3 })).map((r) => r.seq),
    [1, 2, 3],
    'never past upTo',
  );
});
