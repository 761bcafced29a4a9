// Deleted events in events.list, written from the reference: events.list `showDeleted`
// ("Cancelled instances of recurring events (but not the underlying recurring events) will still
// be included if showDeleted and singleEvents are both False. If showDeleted and singleEvents
// are both True, only single instances of deleted events (but not the underlying recurring
// events) are returned.") and Event `status` (cancelled exceptions of a live series are kept
// "for the lifetime of the parent recurring event"; "On the organizer's calendar, cancelled
// events continue to expose event details … However, incremental sync requests with
// showDeleted set to false will not return these details").

import t from 'tap';
import { listAllPages, setup } from './fixtures/harness.js';

const CAL = 'team@example.com';

const weekly = {
  summary: 'weekly sync',
  location: 'room 4',
  start: { dateTime: '2030-03-04T10:00:00Z', timeZone: 'UTC' },
  end: { dateTime: '2030-03-04T11:00:00Z', timeZone: 'UTC' },
  recurrence: ['RRULE:FREQ=WEEKLY;COUNT=4'],
};

t.test('singleEvents=false lists a live series\' cancelled instances even without showDeleted', async (t) => {
  const { emu, cal } = await setup(t);
  const series = emu.insertEvent(CAL, weekly);
  const cancelledId = `${series.id}_20300311T100000Z`;
  emu.deleteEvent(CAL, cancelledId);
  const { items } = await listAllPages(cal, { calendarId: CAL, singleEvents: false });
  t.same(items.map((e) => e.id).sort(), [series.id, cancelledId].sort());
  const exception = items.find((e) => e.id === cancelledId)!;
  t.equal(exception.status, 'cancelled');
  t.equal(exception.recurringEventId, series.id);
  t.same(exception.originalStartTime, { dateTime: '2030-03-11T10:00:00Z', timeZone: 'UTC' });
  const expanded = await listAllPages(cal, { calendarId: CAL, singleEvents: true });
  t.notOk(expanded.items.some((e) => e.id === cancelledId), 'singleEvents=true without showDeleted leaves it out');
  t.same(emu.listAllEvents(CAL, { singleEvents: false }).map((e) => e.id).sort(), [series.id, cancelledId].sort(), 'the in-process view agrees');
});

t.test('once the series is deleted, its cancelled instances leave the singleEvents=false list', async (t) => {
  const { emu, cal } = await setup(t);
  const series = emu.insertEvent(CAL, weekly);
  emu.deleteEvent(CAL, `${series.id}_20300311T100000Z`);
  emu.deleteEvent(CAL, series.id!);
  t.same((await listAllPages(cal, { calendarId: CAL, singleEvents: false })).items, []);
});

t.test('showDeleted=true&singleEvents=true after a series is deleted returns its instances, not the series', async (t) => {
  const { emu, cal } = await setup(t);
  const series = emu.insertEvent(CAL, weekly);
  emu.deleteEvent(CAL, series.id!);
  const { items } = await listAllPages(cal, { calendarId: CAL, singleEvents: true, showDeleted: true });
  t.equal(items.length, 4, 'the four instances');
  t.ok(items.every((e) => e.status === 'cancelled' && e.recurringEventId === series.id));
  t.notOk(items.some((e) => e.id === series.id), 'not the underlying recurring event');
  const lone = emu.insertEvent(CAL, { summary: 'one-off', start: { dateTime: '2030-05-01T10:00:00Z' }, end: { dateTime: '2030-05-01T11:00:00Z' } });
  emu.deleteEvent(CAL, lone.id!);
  const again = await listAllPages(cal, { calendarId: CAL, singleEvents: true, showDeleted: true });
  t.ok(again.items.some((e) => e.id === lone.id), 'a deleted single event is still listed');
});

t.test('a cancelled event on the organizer\'s calendar keeps its details with showDeleted=true', async (t) => {
  const { emu, cal } = await setup(t);
  const ev = emu.insertEvent(CAL, { summary: 'offsite', location: 'Lisbon', description: 'plan', start: { dateTime: '2030-05-01T10:00:00Z' }, end: { dateTime: '2030-05-01T11:00:00Z' } });
  const { nextSyncToken } = await listAllPages(cal, { calendarId: CAL });
  emu.deleteEvent(CAL, ev.id!);
  const full = await listAllPages(cal, { calendarId: CAL, showDeleted: true });
  t.match(full.items, [{ id: ev.id, status: 'cancelled', summary: 'offsite', location: 'Lisbon', description: 'plan', start: ev.start, end: ev.end }]);
  const incrementalDetailed = await listAllPages(cal, { calendarId: CAL, syncToken: nextSyncToken, showDeleted: true });
  t.match(incrementalDetailed.items, [{ id: ev.id, status: 'cancelled', summary: 'offsite' }], 'incremental with showDeleted=true: details too');
  const incremental = await listAllPages(cal, { calendarId: CAL, syncToken: nextSyncToken });
  t.same(Object.keys(incremental.items[0]!).sort(), ['etag', 'id', 'kind', 'status'], 'incremental without showDeleted: no details');
});
