import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { connectDatabase } from '../../src/db/connect.js';
import { testConfig } from '../helpers/config.js';
import { startSyncHarness } from '../helpers/sync-harness.js';
import type { FeedChange } from '../../src/changes/change-feed.js';

const ADMIN = 'test-admin-token-0123456789abcdefghijkl';
const AUTH = { authorization: `Bearer ${ADMIN}` };

async function appOn(t: Test, uri: string) {
  const conn = await connectDatabase(uri);
  const app = await buildApp({ config: testConfig({ MONGODB_URI: uri, ADMIN_TOKEN: ADMIN }), conn, logger: false });
  t.teardown(async () => {
    await app.close();
    await conn.close();
  });
  await app.ready();
  return app;
}

t.test('GET /admin/changes pages in order, filters by calendar, long-polls, and resumes on a new server instance', async (t) => {
  const h = await startSyncHarness(t, 'changes-api');
  const uri = h.db.uri;
  const events = h.seed(5);
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  const app = await appOn(t, uri);

  t.equal((await app.inject({ url: '/admin/changes' })).statusCode, 401, 'admin auth like the rest of /admin');
  for (const q of ['limit=0', 'limit=1001', 'wait=31', 'calendarId=nope', 'extra=1']) {
    const res = await app.inject({ url: `/admin/changes?${q}`, headers: AUTH });
    t.equal(res.statusCode, 400, q);
    t.equal(res.json().error.code, 'BAD_REQUEST');
  }
  const bad = await app.inject({ url: '/admin/changes?after=zzz', headers: AUTH });
  t.match(bad, { statusCode: 400 });
  t.equal(bad.json().error.code, 'BAD_CURSOR');

  const p1 = (await app.inject({ url: '/admin/changes?limit=3', headers: AUTH })).json() as { changes: FeedChange[]; nextCursor: string };
  t.equal(p1.changes.length, 3);
  t.match(p1.changes[0], { calendarId: h.calendarId, type: 'created', etag: /./, seenAt: /Z$/, cursor: /./ });
  t.same((await app.inject({ url: `/admin/changes?calendarId=${'0'.repeat(24)}`, headers: AUTH })).json().changes, [], 'another calendar has none');

  // A restart: a new app on the same database resumes from the cursor.
  await app.close();
  const app2 = await appOn(t, uri);
  const p2 = (await app2.inject({ url: `/admin/changes?after=${p1.nextCursor}&calendarId=${h.calendarId}`, headers: AUTH })).json();
  t.equal(p2.changes.length, 2, 'the rest, after the cursor');
  t.same([...p1.changes, ...p2.changes].map((c: FeedChange) => c.googleEventId).sort(), events.map((e) => e.id).sort(), 'nothing missed, nothing twice');

  // Long poll: answered by the change, not by the timeout.
  const started = Date.now();
  const waiting = app2.inject({ url: `/admin/changes?after=${p2.nextCursor}&wait=30`, headers: AUTH });
  h.emu.patchEvent(h.gcalId, events[0]!.id!, { summary: 'while waiting' });
  await engine.syncCalendar(h.calendarId);
  const res = (await waiting).json();
  t.match(res.changes, [{ googleEventId: events[0]!.id, type: 'updated', changed: { summary: { after: 'while waiting' } } }]);
  t.ok(Date.now() - started < 25_000, 'the long poll ended with the change');
  const empty = (await app2.inject({ url: `/admin/changes?after=${res.nextCursor}&wait=0`, headers: AUTH })).json();
  t.same(empty.changes, []);
  t.type(empty.nextCursor, 'string');
});
