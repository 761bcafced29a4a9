import t, { type Test } from 'tap';
import { Types } from 'mongoose';
import { appOnTestDb } from '../helpers/app-on-test-db.js';

const ADMIN = 'calendar-list-admin-token-0123456789ab';
const AUTH = { authorization: `Bearer ${ADMIN}` };
const STATES = ['idle', 'idle', 'failed', 'syncing', 'needs_attention'] as const;

/** An app over `n` calendars whose states cycle through STATES; returns their ids in _id order. */
async function appWithCalendars(t: Test, n: number) {
  const app = await appOnTestDb(t, 'calendar-list', { ADMIN_TOKEN: ADMIN });
  const accountId = new Types.ObjectId();
  const docs = Array.from({ length: n }, (_, i) => ({
    _id: new Types.ObjectId(),
    accountId,
    googleCalendarId: `cal-${i}@group.calendar.google.com`,
    state: STATES[i % STATES.length],
    syncToken: 'SECRET-SYNC-TOKEN',
  }));
  await app.services.models.Calendar.insertMany(docs);
  return { app, docs: docs.sort((a, b) => a._id.toHexString().localeCompare(b._id.toHexString())) };
}

async function pages(t: Test, app: Awaited<ReturnType<typeof appWithCalendars>>['app'], query: string) {
  const seen: { id: string; state: string }[] = [];
  let cursor: string | null = null;
  let requests = 0;
  do {
    const res: { statusCode: number; body: string; json: () => unknown } = await app.inject({ url: `/admin/calendars?${query}${cursor ? `&cursor=${cursor}` : ''}`, headers: AUTH });
    t.equal(res.statusCode, 200, res.body);
    const body = res.json() as { calendars: { id: string; state: string }[]; nextCursor: string | null };
    seen.push(...body.calendars);
    cursor = body.nextCursor;
    requests++;
  } while (cursor && requests < 100);
  return { seen, requests };
}

t.test('GET /admin/calendars pages through every calendar once, in order, with an opaque cursor', async (t) => {
  const { app, docs } = await appWithCalendars(t, 250);
  const first = await app.inject({ url: '/admin/calendars', headers: AUTH });
  const body = first.json();
  t.equal(body.calendars.length, 100, 'a page of 100 by default');
  t.type(body.nextCursor, 'string');
  t.notMatch(first.body, 'SECRET-SYNC-TOKEN');

  const { seen, requests } = await pages(t, app, 'limit=60');
  t.equal(requests, 5, '250 calendars in pages of 60');
  t.same(seen.map((c) => c.id), docs.map((d) => d._id.toHexString()));
});

t.test('GET /admin/calendars?state= lists only calendars in that state, page by page', async (t) => {
  const { app, docs } = await appWithCalendars(t, 60);
  const { seen } = await pages(t, app, 'state=failed&limit=5');
  const failed = docs.filter((d) => d.state === 'failed').map((d) => d._id.toHexString());
  t.equal(failed.length, 12);
  t.same(seen.map((c) => c.id), failed);
  t.ok(seen.every((c) => c.state === 'failed'));
  const last = await app.inject({ url: '/admin/calendars?state=failed&limit=12', headers: AUTH });
  t.equal(last.json().nextCursor, null, 'no cursor when the page holds the rest');
});

t.test('GET /admin/calendars refuses a bad limit, state or cursor with a clear 400', async (t) => {
  const { app } = await appWithCalendars(t, 3);
  for (const query of ['limit=0', 'limit=1001', 'limit=ten', 'state=sleeping', `cursor=${Buffer.from('v1:nothex').toString('base64url')}`, 'cursor=%25%25', 'extra=1']) {
    const res = await app.inject({ url: `/admin/calendars?${query}`, headers: AUTH });
    t.equal(res.statusCode, 400, query);
    t.type(res.json().error?.code, 'string', query);
    t.type(res.json().error?.message, 'string', query);
  }
  t.equal((await app.inject({ url: '/admin/calendars?limit=1000', headers: AUTH })).json().calendars.length, 3, 'the maximum is 1000');
});
