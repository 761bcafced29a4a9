import t from 'tap';
import { failure, listAllPages, setup, timed } from './fixtures/harness.js';

const CAL = 'team@example.com';

t.test('a full list over three pages carries nextSyncToken only on the last page', async (t) => {
  const { emu, cal } = await setup(t);
  emu.insertEvents(CAL, Array.from({ length: 5 }, (_, i) => timed(`e${i}`, i)));
  const { pages, items, nextSyncToken } = await listAllPages(cal, { calendarId: CAL, maxResults: 2 });
  t.equal(pages.length, 3);
  t.same(pages.map((p) => p.items?.length), [2, 2, 1]);
  for (const p of pages.slice(0, 2)) {
    t.ok(p.nextPageToken, 'intermediate page has nextPageToken');
    t.notOk(p.nextSyncToken, 'intermediate page has no nextSyncToken');
  }
  t.notOk(pages[2]!.nextPageToken, 'last page has no nextPageToken');
  t.ok(nextSyncToken, 'last page has nextSyncToken');
  t.equal(new Set(items.map((e) => e.id)).size, 5, 'every event exactly once');
});

t.test('a full list response has Google\'s envelope', async (t) => {
  const { emu, cal } = await setup(t);
  emu.insertEvent(CAL, timed('one'));
  const { data } = await cal.events.list({ calendarId: CAL });
  t.equal(data.kind, 'calendar#events');
  t.match(data.etag, /^"\d+"$/);
  t.equal(data.summary, CAL);
  t.equal(data.timeZone, 'UTC');
  t.equal(data.accessRole, 'owner');
  t.same(data.defaultReminders, []);
  t.match(data.updated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const ev = data.items![0]!;
  t.equal(ev.kind, 'calendar#event');
  t.match(ev.etag, /^"\d{16,}"$/);
  t.equal(ev.status, 'confirmed');
  t.equal(ev.iCalUID, `${ev.id}@google.com`);
  t.match(ev.htmlLink, /^https:\/\/www\.google\.com\/calendar\/event\?eid=/);
});

t.test('maxResults above 2500 is rejected with 400 invalid', async (t) => {
  const { cal } = await setup(t);
  const res = await failure(cal.events.list({ calendarId: CAL, maxResults: 2501 }));
  t.equal(res.status, 400);
  t.equal(res.body.error.errors[0].reason, 'invalid');
  t.equal(res.body.error.errors[0].location, 'maxResults');
  const { data } = await cal.events.list({ calendarId: CAL, maxResults: 2500 });
  t.ok(data.nextSyncToken, '2500 is allowed');
});

t.test('an unknown calendar answers 404 notFound', async (t) => {
  const { cal } = await setup(t);
  const res = await failure(cal.events.list({ calendarId: 'nobody@example.com' }));
  t.equal(res.status, 404);
  t.equal(res.body.error.errors[0].reason, 'notFound');
});

t.test('the page-size knob forces short pages whatever maxResults says', async (t) => {
  const { emu, cal } = await setup(t);
  emu.insertEvents(CAL, Array.from({ length: 7 }, (_, i) => timed(`e${i}`, i)));
  emu.setPaging({ maxPageSize: 3 });
  const { pages, items, nextSyncToken } = await listAllPages(cal, { calendarId: CAL, maxResults: 250 });
  t.same(pages.map((p) => p.items?.length), [3, 3, 1]);
  t.equal(items.length, 7);
  t.ok(nextSyncToken);
});

t.test('injected empty pages still carry nextPageToken and lose nothing', async (t) => {
  const { emu, cal } = await setup(t);
  emu.insertEvents(CAL, Array.from({ length: 4 }, (_, i) => timed(`e${i}`, i)));
  emu.setPaging({ maxPageSize: 2, emptyPageRate: 1 });
  const { pages, items, nextSyncToken } = await listAllPages(cal, { calendarId: CAL });
  t.same(pages.map((p) => p.items?.length), [0, 2, 0, 2]);
  t.ok(pages.slice(0, 3).every((p) => p.nextPageToken && !p.nextSyncToken));
  t.equal(items.length, 4);
  t.ok(nextSyncToken);
});

t.test('a page token used with a different query is rejected with 400', async (t) => {
  const { emu, cal } = await setup(t);
  emu.insertEvents(CAL, Array.from({ length: 3 }, (_, i) => timed(`e${i}`, i)));
  const { data } = await cal.events.list({ calendarId: CAL, maxResults: 1 });
  const res = await failure(cal.events.list({ calendarId: CAL, maxResults: 1, showDeleted: true, pageToken: data.nextPageToken! }));
  t.equal(res.status, 400);
  t.equal(res.body.error.errors[0].location, 'pageToken');
  const garbage = await failure(cal.events.list({ calendarId: CAL, pageToken: 'not-a-token' }));
  t.equal(garbage.status, 400);
});

t.test('changes made while a client pages through a full sync are not lost', async (t) => {
  const { emu, cal } = await setup(t);
  const created = emu.insertEvents(CAL, Array.from({ length: 6 }, (_, i) => timed(`e${i}`, i)));
  const sorted = created.map((e) => e.id!).sort();
  let added = '';
  const { items, nextSyncToken } = await listAllPages(cal, { calendarId: CAL, maxResults: 2 }, (page) => {
    if (page !== 0) return;
    // After page one: edit an item already served, edit one not yet served, delete one not yet served, add one.
    emu.patchEvent(CAL, sorted[0]!, { summary: 'edited after being served' });
    emu.patchEvent(CAL, sorted[4]!, { summary: 'edited before being served' });
    emu.deleteEvent(CAL, sorted[5]!);
    added = emu.insertEvent(CAL, timed('added during paging', 50)).id!;
  });
  const inc = await listAllPages(cal, { calendarId: CAL, syncToken: nextSyncToken! });
  // Replay full + incremental the way a mirror would and compare with the truth.
  const mirror = new Map<string, string>();
  for (const e of [...items, ...inc.items]) {
    if (e.status === 'cancelled') mirror.delete(e.id!);
    else mirror.set(e.id!, e.summary!);
  }
  const truth = new Map(emu.listAllEvents(CAL).map((e) => [e.id!, e.summary!]));
  t.same(Object.fromEntries(mirror), Object.fromEntries(truth), 'full + incremental == live state');
  t.ok(truth.has(added));
  t.equal(truth.get(sorted[4]!), 'edited before being served');
  t.notOk(truth.has(sorted[5]!));
});

t.test('timeMin/timeMax select events that overlap the window', async (t) => {
  const { emu, cal } = await setup(t);
  const ids = emu.insertEvents(CAL, [
    timed('ends at window start', 0, 2), // 00:00–02:00
    timed('straddles start', 1, 2), // 01:00–03:00
    timed('inside', 3, 1), // 03:00–04:00
    timed('straddles end', 4, 2), // 04:00–06:00
    timed('starts at window end', 5, 1), // 05:00–06:00
  ]).map((e) => e.summary);
  t.equal(ids.length, 5);
  const { data } = await cal.events.list({
    calendarId: CAL, timeMin: '2030-01-01T02:00:00Z', timeMax: '2030-01-01T05:00:00+00:00',
  });
  t.same(data.items!.map((e) => e.summary).sort(), ['inside', 'straddles end', 'straddles start']);
  const empty = await failure(cal.events.list({ calendarId: CAL, timeMin: '2030-01-02T00:00:00Z', timeMax: '2030-01-01T00:00:00Z' }));
  t.equal(empty.status, 400);
  t.equal(empty.body.error.errors[0].reason, 'timeRangeEmpty');
});

t.test('orderBy=startTime needs singleEvents and orders by start', async (t) => {
  const { emu, cal } = await setup(t);
  emu.insertEvents(CAL, [timed('late', 10), timed('early', 1), timed('middle', 5)]);
  const bad = await failure(cal.events.list({ calendarId: CAL, orderBy: 'startTime' }));
  t.equal(bad.status, 400);
  const { data } = await cal.events.list({ calendarId: CAL, orderBy: 'startTime', singleEvents: true });
  t.same(data.items!.map((e) => e.summary), ['early', 'middle', 'late']);
  const byUpdated = await cal.events.list({ calendarId: CAL, orderBy: 'updated' });
  t.equal(byUpdated.data.items!.length, 3);
});

t.test('showDeleted lists cancelled events in a full sync, and hides them by default', async (t) => {
  const { emu, cal } = await setup(t);
  const [a, b] = emu.insertEvents(CAL, [timed('keep', 1), timed('gone', 2)]);
  emu.deleteEvent(CAL, b!.id!);
  const hidden = await cal.events.list({ calendarId: CAL });
  t.same(hidden.data.items!.map((e) => e.id), [a!.id]);
  const shown = await cal.events.list({ calendarId: CAL, showDeleted: true });
  const gone = shown.data.items!.find((e) => e.id === b!.id);
  t.equal(gone?.status, 'cancelled');
});

t.test('q, iCalUID and privateExtendedProperty filter a full list', async (t) => {
  const { emu, cal } = await setup(t);
  const [x] = emu.insertEvents(CAL, [
    { ...timed('Quarterly planning', 1), extendedProperties: { private: { source: 'crm' } } },
    timed('Lunch', 2),
  ]);
  const byQ = await cal.events.list({ calendarId: CAL, q: 'planning' });
  t.same(byQ.data.items!.map((e) => e.summary), ['Quarterly planning']);
  const byUid = await cal.events.list({ calendarId: CAL, iCalUID: x!.iCalUID! });
  t.same(byUid.data.items!.map((e) => e.id), [x!.id]);
  const byProp = await cal.events.list({ calendarId: CAL, privateExtendedProperty: ['source=crm'] });
  t.same(byProp.data.items!.map((e) => e.id), [x!.id]);
});
