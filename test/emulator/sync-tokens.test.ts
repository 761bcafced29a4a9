import t from 'tap';
import { failure, listAllPages, setup, timed } from './fixtures/harness.js';

const CAL = 'team@example.com';

const GONE_BODY = {
  error: {
    errors: [{
      domain: 'calendar',
      reason: 'fullSyncRequired',
      message: 'Sync token is no longer valid, a full sync is required.',
      locationType: 'parameter',
      location: 'syncToken',
    }],
    code: 410,
    message: 'Sync token is no longer valid, a full sync is required.',
  },
};

t.test('an incremental sync returns only what changed since the token', async (t) => {
  const { emu, cal } = await setup(t);
  const [a] = emu.insertEvents(CAL, [timed('a', 1), timed('b', 2), timed('c', 3)]);
  const full = await listAllPages(cal, { calendarId: CAL });
  emu.patchEvent(CAL, a!.id!, { summary: 'a2' });
  const d = emu.insertEvent(CAL, timed('d', 4));
  const inc = await listAllPages(cal, { calendarId: CAL, syncToken: full.nextSyncToken! });
  t.same(inc.items.map((e) => e.summary).sort(), ['a2', 'd']);
  t.ok(inc.nextSyncToken);
  t.not(inc.nextSyncToken, full.nextSyncToken, 'the token advances');
  const none = await listAllPages(cal, { calendarId: CAL, syncToken: inc.nextSyncToken! });
  t.same(none.items, [], 'nothing changed since the new token');
  t.ok(d.id);
});

t.test('a deletion appears in the incremental sync as a cancelled item', async (t) => {
  const { emu, cal } = await setup(t);
  const [a] = emu.insertEvents(CAL, [timed('a', 1), timed('b', 2)]);
  const full = await listAllPages(cal, { calendarId: CAL });
  await cal.events.delete({ calendarId: CAL, eventId: a!.id! });
  const inc = await listAllPages(cal, { calendarId: CAL, syncToken: full.nextSyncToken! });
  t.equal(inc.items.length, 1);
  const item = inc.items[0]!;
  t.equal(item.id, a!.id);
  t.equal(item.status, 'cancelled');
  t.same(Object.keys(item).sort(), ['etag', 'id', 'kind', 'status'], 'only what Google guarantees');
});

t.test('an incremental sync pages like a full one: same query + token + pageToken, token only at the end', async (t) => {
  const { emu, cal } = await setup(t);
  const full = await listAllPages(cal, { calendarId: CAL });
  emu.insertEvents(CAL, Array.from({ length: 5 }, (_, i) => timed(`e${i}`, i)));
  const inc = await listAllPages(cal, { calendarId: CAL, syncToken: full.nextSyncToken!, maxResults: 2 });
  t.same(inc.pages.map((p) => p.items!.length), [2, 2, 1]);
  t.ok(inc.pages.slice(0, 2).every((p) => !p.nextSyncToken));
  t.ok(inc.nextSyncToken);
});

const FORBIDDEN: Array<[string, Record<string, unknown>]> = [
  ['timeMin', { timeMin: '2030-01-01T00:00:00Z' }],
  ['timeMax', { timeMax: '2030-01-01T00:00:00Z' }],
  ['orderBy', { orderBy: 'updated' }],
  ['q', { q: 'lunch' }],
  ['updatedMin', { updatedMin: '2030-01-01T00:00:00Z' }],
  ['iCalUID', { iCalUID: 'x@google.com' }],
  ['privateExtendedProperty', { privateExtendedProperty: ['a=b'] }],
  ['sharedExtendedProperty', { sharedExtendedProperty: ['a=b'] }],
];

for (const [name, extra] of FORBIDDEN) {
  t.test(`syncToken combined with ${name} is rejected with 400`, async (t) => {
    const { cal } = await setup(t);
    const full = await listAllPages(cal, { calendarId: CAL });
    const res = await failure(cal.events.list({ calendarId: CAL, syncToken: full.nextSyncToken!, ...extra }));
    t.equal(res.status, 400);
    t.equal(res.body.error.code, 400);
    t.equal(res.body.error.errors[0].reason, 'invalid');
    t.equal(res.body.error.errors[0].location, name);
  });
}

t.test('showDeleted=false with a syncToken is rejected with 400, showDeleted=true is fine', async (t) => {
  const { cal } = await setup(t);
  const full = await listAllPages(cal, { calendarId: CAL });
  const res = await failure(cal.events.list({ calendarId: CAL, syncToken: full.nextSyncToken!, showDeleted: false }));
  t.equal(res.status, 400);
  t.equal(res.body.error.errors[0].location, 'showDeleted');
  const ok = await cal.events.list({ calendarId: CAL, syncToken: full.nextSyncToken!, showDeleted: true });
  t.equal(ok.status, 200);
});

t.test('an invalidated sync token answers 410 with exactly Google\'s body', async (t) => {
  const { emu, cal } = await setup(t);
  emu.insertEvent(CAL, timed('a'));
  const full = await listAllPages(cal, { calendarId: CAL });
  const res1 = await fetch(`${emu.url}/emulator/calendars/${encodeURIComponent(CAL)}/invalidate-sync-tokens`, { method: 'POST' });
  t.equal(res1.status, 204);
  const res = await failure(cal.events.list({ calendarId: CAL, syncToken: full.nextSyncToken! }));
  t.equal(res.status, 410);
  t.strictSame(res.body, GONE_BODY);
  // A fresh full sync yields a working token again.
  const again = await listAllPages(cal, { calendarId: CAL });
  const inc = await cal.events.list({ calendarId: CAL, syncToken: again.nextSyncToken! });
  t.equal(inc.status, 200);
});

t.test('a sync token that was never issued answers 410 fullSyncRequired', async (t) => {
  const { cal } = await setup(t);
  const res = await failure(cal.events.list({ calendarId: CAL, syncToken: 'CPDAlvWDx70CEPDAlvWDx70CGAU=' }));
  t.equal(res.status, 410);
  t.strictSame(res.body, GONE_BODY);
});

t.test('a sync token from another calendar answers 410', async (t) => {
  const { emu, cal } = await setup(t);
  emu.createCalendar('other@example.com');
  emu.insertEvent('other@example.com', timed('x'));
  const other = await listAllPages(cal, { calendarId: 'other@example.com' });
  const res = await failure(cal.events.list({ calendarId: CAL, syncToken: other.nextSyncToken! }));
  t.equal(res.status, 410);
});

t.test('a sync token is bound to the singleEvents value of the query that produced it', async (t) => {
  const { cal } = await setup(t);
  const full = await listAllPages(cal, { calendarId: CAL, singleEvents: true });
  const res = await failure(cal.events.list({ calendarId: CAL, syncToken: full.nextSyncToken! }));
  t.equal(res.status, 400);
  t.equal(res.body.error.errors[0].location, 'singleEvents');
  const ok = await cal.events.list({ calendarId: CAL, syncToken: full.nextSyncToken!, singleEvents: true });
  t.equal(ok.status, 200);
});

t.test('a full sync ordered by startTime returns no sync token', async (t) => {
  const { emu, cal } = await setup(t);
  emu.insertEvent(CAL, timed('a'));
  const { data } = await cal.events.list({ calendarId: CAL, singleEvents: true, orderBy: 'startTime' });
  t.equal(data.items!.length, 1);
  t.notOk(data.nextSyncToken);
  t.notOk(data.nextPageToken);
});

t.test('updatedMin returns events updated since then, deleted ones included', async (t) => {
  let now = Date.UTC(2029, 0, 1);
  const { emu, cal } = await setup(t, { now: () => now });
  const [old, gone] = emu.insertEvents(CAL, [timed('old', 1), timed('gone', 2)]);
  now += 60_000;
  const fresh = emu.insertEvent(CAL, timed('fresh', 3));
  emu.deleteEvent(CAL, gone!.id!);
  const { data } = await cal.events.list({ calendarId: CAL, updatedMin: new Date(now).toISOString() });
  const byId = new Map(data.items!.map((e) => [e.id, e.status]));
  t.equal(byId.get(fresh.id), 'confirmed');
  t.equal(byId.get(gone!.id), 'cancelled');
  t.notOk(byId.has(old!.id));
});
