// Partial responses, from the performance guide: the `fields` parameter selects the fields
// returned (`a,b`, `a/b`, `a(b,c)`, `*`); everything else is left out. A list whose mask does
// not name nextSyncToken therefore gets no sync token.

import t from 'tap';
import { failure, setup, timed } from './fixtures/harness.js';

const CAL = 'team@example.com';

t.test('fields selects what events.list returns, nested selections included', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  emu.insertEvent(CAL, timed('x'));
  const { data } = await cal.events.list({ calendarId: CAL, fields: 'items(id,start/dateTime),nextSyncToken' });
  t.same(Object.keys(data).sort(), ['items', 'nextSyncToken']);
  t.same(Object.keys(data.items![0]!).sort(), ['id', 'start']);
  t.same(Object.keys(data.items![0]!.start!), ['dateTime']);
  t.match(data.nextSyncToken, /^C/);
});

t.test('a mask without nextSyncToken gets no token', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  emu.insertEvent(CAL, timed('x'));
  const { data } = await cal.events.list({ calendarId: CAL, fields: 'items(id,etag,status),nextPageToken' });
  t.notOk('nextSyncToken' in data);
  t.equal(data.items!.length, 1);
  t.match((await cal.events.list({ calendarId: CAL })).data.nextSyncToken, /^C/, 'no mask: the whole answer');
});

t.test('fields applies to single-event answers and channels too; * selects everything', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  const ev = emu.insertEvent(CAL, timed('x'));
  const got = await cal.events.get({ calendarId: CAL, eventId: ev.id!, fields: 'id,summary' });
  t.same(got.data, { id: ev.id, summary: 'x' });
  const inserted = await cal.events.insert({ calendarId: CAL, requestBody: timed('y'), fields: 'etag' });
  t.same(Object.keys(inserted.data), ['etag']);
  const w = await cal.events.watch({ calendarId: CAL, fields: 'id,resourceId', requestBody: { id: 'c1', type: 'web_hook', address: 'http://127.0.0.1:9/x' } });
  t.same(Object.keys(w.data).sort(), ['id', 'resourceId']);
  const all = await cal.events.get({ calendarId: CAL, eventId: ev.id!, fields: '*' });
  t.equal(all.data.etag, ev.etag);
});

t.test('a malformed mask answers 400 invalidParameter at location fields', async (t) => {
  const { calNoRetry: cal } = await setup(t);
  for (const fields of ['items(id', 'items()', 'a,,b']) {
    const res = await failure(cal.events.list({ calendarId: CAL, fields }));
    t.match(res, { status: 400, body: { error: { errors: [{ reason: 'invalidParameter', location: 'fields' }] } } }, fields);
  }
});
