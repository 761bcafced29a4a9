// events.list time parameters, from the events.list reference: timeMin/timeMax "Milliseconds
// may be provided but are ignored", and `timeZone`: "Time zone used in the response. Optional.
// The default is the time zone of the calendar."

import t from 'tap';
import { failure, listAllPages, setup } from './fixtures/harness.js';

const CAL = 'team@example.com';

t.test('milliseconds in timeMin and timeMax are ignored', async (t) => {
  const { emu, cal } = await setup(t);
  // Ends at 10:00:00.000; timeMin 09:59:59.999 names the same second as 09:59:59 and still overlaps.
  const ev = emu.insertEvent(CAL, { summary: 'x', start: { dateTime: '2030-03-04T09:00:00Z' }, end: { dateTime: '2030-03-04T10:00:00Z' } });
  const byMin = await listAllPages(cal, { calendarId: CAL, timeMin: '2030-03-04T09:59:59.999Z' });
  t.same(byMin.items.map((e) => e.id), [ev.id]);
  // Starts at 09:00:00; timeMax 09:00:00.500 is read as 09:00:00, and the range is end-exclusive.
  const byMax = await listAllPages(cal, { calendarId: CAL, timeMax: '2030-03-04T09:00:00.500Z' });
  t.same(byMax.items, [], 'timeMax 09:00:00.500 reads as 09:00:00, before the start');
  const inSecond = await failure(cal.events.list({ calendarId: CAL, timeMin: '2030-03-04T09:00:00.100Z', timeMax: '2030-03-04T09:00:00.900Z' }));
  t.match(inSecond, { status: 400, body: { error: { errors: [{ reason: 'timeRangeEmpty', location: 'timeMax' }] } } }, 'both in one second: an empty range');
});

t.test('timeZone renders the response\'s event times in that zone', async (t) => {
  const { emu, cal } = await setup(t);
  emu.insertEvent(CAL, { summary: 'x', start: { dateTime: '2030-07-04T09:00:00Z' }, end: { dateTime: '2030-07-04T10:30:00Z' } });
  emu.insertEvent(CAL, { summary: 'all day', start: { date: '2030-07-05' }, end: { date: '2030-07-06' } });
  const plain = await cal.events.list({ calendarId: CAL });
  t.equal(plain.data.timeZone, 'UTC', 'default: the calendar\'s zone');
  const { data } = await cal.events.list({ calendarId: CAL, timeZone: 'America/New_York' });
  t.equal(data.timeZone, 'America/New_York');
  const timed = data.items!.find((e) => e.summary === 'x')!;
  t.equal(timed.start!.dateTime, '2030-07-04T05:00:00-04:00');
  t.equal(timed.end!.dateTime, '2030-07-04T06:30:00-04:00');
  t.same(data.items!.find((e) => e.summary === 'all day')!.start, { date: '2030-07-05' }, 'dates have no zone');
  const bad = await failure(cal.events.list({ calendarId: CAL, timeZone: 'Mars/Olympus' }));
  t.match(bad, { status: 400, body: { error: { errors: [{ reason: 'invalid', location: 'timeZone' }] } } });
});

t.test('timeZone applies to expanded instances and their originalStartTime', async (t) => {
  const { emu, cal } = await setup(t);
  emu.insertEvent(CAL, {
    start: { dateTime: '2030-01-07T15:00:00Z', timeZone: 'UTC' },
    end: { dateTime: '2030-01-07T16:00:00Z', timeZone: 'UTC' },
    recurrence: ['RRULE:FREQ=DAILY;COUNT=1'],
  });
  const { data } = await cal.events.list({ calendarId: CAL, singleEvents: true, timeZone: 'Asia/Tokyo' });
  t.equal(data.items![0]!.start!.dateTime, '2030-01-08T00:00:00+09:00');
  t.equal(data.items![0]!.originalStartTime!.dateTime, '2030-01-08T00:00:00+09:00');
});
