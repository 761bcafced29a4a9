import t from 'tap';
import { failure, listAllPages, setup } from './fixtures/harness.js';

const CAL = 'team@example.com';

t.test('a DAILY series with COUNT expands into instances with Google-style ids', async (t) => {
  const { emu, cal } = await setup(t);
  const master = emu.insertEvent(CAL, {
    summary: 'standup',
    start: { dateTime: '2030-03-04T09:00:00Z', timeZone: 'UTC' },
    end: { dateTime: '2030-03-04T09:15:00Z', timeZone: 'UTC' },
    recurrence: ['RRULE:FREQ=DAILY;COUNT=3'],
  });
  const { items } = await listAllPages(cal, { calendarId: CAL, singleEvents: true });
  t.same(items.map((e) => e.id), [
    `${master.id}_20300304T090000Z`, `${master.id}_20300305T090000Z`, `${master.id}_20300306T090000Z`,
  ]);
  for (const inst of items) {
    t.equal(inst.recurringEventId, master.id);
    t.same(inst.originalStartTime, inst.start);
    t.equal(inst.summary, 'standup');
    t.notOk(inst.recurrence, 'instances carry no recurrence');
  }
  t.equal(items[1]!.end!.dateTime, '2030-03-05T09:15:00Z');
  const masters = await listAllPages(cal, { calendarId: CAL });
  t.same(masters.items.map((e) => e.id), [master.id], 'singleEvents=false returns the series itself');
  t.same(masters.items[0]!.recurrence, ['RRULE:FREQ=DAILY;COUNT=3']);
});

t.test('a WEEKLY series honours BYDAY, INTERVAL and UNTIL', async (t) => {
  const { emu, cal } = await setup(t);
  const master = emu.insertEvent(CAL, {
    summary: 'review',
    start: { dateTime: '2030-03-04T14:00:00Z', timeZone: 'UTC' }, // a Monday
    end: { dateTime: '2030-03-04T15:00:00Z', timeZone: 'UTC' },
    recurrence: ['RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;UNTIL=20300401T000000Z'],
  });
  const { items } = await listAllPages(cal, { calendarId: CAL, singleEvents: true });
  t.same(items.map((e) => e.start!.dateTime), [
    '2030-03-04T14:00:00Z', '2030-03-07T14:00:00Z', '2030-03-18T14:00:00Z', '2030-03-21T14:00:00Z',
  ]);
  t.ok(items.every((e) => e.id!.startsWith(`${master.id}_`)));
});

t.test('a weekly series keeps its wall-clock time across a DST change in its time zone', async (t) => {
  const { emu } = await setup(t);
  emu.insertEvent(CAL, {
    // EU summer time starts on 2030-03-31.
    start: { dateTime: '2030-03-28T10:00:00', timeZone: 'Europe/Berlin' },
    end: { dateTime: '2030-03-28T11:00:00', timeZone: 'Europe/Berlin' },
    recurrence: ['RRULE:FREQ=WEEKLY;COUNT=2'],
  });
  const items = emu.listAllEvents(CAL, { singleEvents: true });
  t.same(items.map((e) => e.start!.dateTime), ['2030-03-28T10:00:00+01:00', '2030-04-04T10:00:00+02:00']);
  t.match(items[1]!.id!, /_20300404T080000Z$/, 'instance id suffix is the UTC start');
});

t.test('an all-day series uses date-only instance ids', async (t) => {
  const { emu } = await setup(t);
  const master = emu.insertEvent(CAL, {
    start: { date: '2030-05-01' }, end: { date: '2030-05-02' }, recurrence: ['RRULE:FREQ=DAILY;UNTIL=20300503'],
  });
  const items = emu.listAllEvents(CAL, { singleEvents: true });
  t.same(items.map((e) => e.id), [`${master.id}_20300501`, `${master.id}_20300502`, `${master.id}_20300503`]);
  t.same(items[2]!.end, { date: '2030-05-04' });
  t.same(items[2]!.originalStartTime, { date: '2030-05-03' });
});

t.test('an open-ended series is expanded up to the documented horizon only', async (t) => {
  const { emu } = await setup(t, { now: () => Date.UTC(2030, 0, 1) });
  emu.insertEvent(CAL, {
    start: { dateTime: '2030-01-01T08:00:00Z', timeZone: 'UTC' },
    end: { dateTime: '2030-01-01T09:00:00Z', timeZone: 'UTC' },
    recurrence: ['RRULE:FREQ=WEEKLY'],
  });
  const items = emu.listAllEvents(CAL, { singleEvents: true });
  t.equal(items.length, 105, 'two years of weekly instances (730 days)');
});

t.test('EXDATE removes instances', async (t) => {
  const { emu } = await setup(t);
  emu.insertEvent(CAL, {
    start: { dateTime: '2030-03-04T09:00:00Z', timeZone: 'UTC' },
    end: { dateTime: '2030-03-04T10:00:00Z', timeZone: 'UTC' },
    recurrence: ['RRULE:FREQ=DAILY;COUNT=3', 'EXDATE:20300305T090000Z'],
  });
  t.same(emu.listAllEvents(CAL, { singleEvents: true }).map((e) => e.start!.dateTime), ['2030-03-04T09:00:00Z', '2030-03-06T09:00:00Z']);
});

t.test('a recurring timed event without a time zone is rejected like Google does', async (t) => {
  const { cal } = await setup(t);
  const res = await failure(cal.events.insert({
    calendarId: CAL,
    requestBody: { start: { dateTime: '2030-03-04T09:00:00Z' }, end: { dateTime: '2030-03-04T10:00:00Z' }, recurrence: ['RRULE:FREQ=DAILY'] },
  }));
  t.equal(res.status, 400);
  t.match(res.body.error.message, /time zone/);
  const unsupported = await failure(cal.events.insert({
    calendarId: CAL,
    requestBody: {
      start: { dateTime: '2030-03-04T09:00:00Z', timeZone: 'UTC' }, end: { dateTime: '2030-03-04T10:00:00Z', timeZone: 'UTC' },
      recurrence: ['RRULE:FREQ=MONTHLY;BYDAY=2TU'],
    },
  }));
  t.equal(unsupported.status, 400, 'unsupported rules fail loudly');
});

t.test('deleting one instance yields a cancelled instance carrying recurringEventId and originalStartTime', async (t) => {
  const { emu, cal } = await setup(t);
  for (const singleEvents of [false, true]) {
    const calendarId = `series-${singleEvents}@example.com`;
    emu.createCalendar(calendarId);
    const master = emu.insertEvent(calendarId, {
      start: { dateTime: '2030-03-04T09:00:00Z', timeZone: 'UTC' },
      end: { dateTime: '2030-03-04T10:00:00Z', timeZone: 'UTC' },
      recurrence: ['RRULE:FREQ=DAILY;COUNT=3'],
    });
    const full = await listAllPages(cal, { calendarId, singleEvents });
    const instanceId = `${master.id}_20300305T090000Z`;
    await cal.events.delete({ calendarId, eventId: instanceId });
    const inc = await listAllPages(cal, { calendarId, singleEvents, syncToken: full.nextSyncToken! });
    t.equal(inc.items.length, 1, `singleEvents=${singleEvents}: one change`);
    t.same(inc.items[0], {
      kind: 'calendar#event',
      etag: inc.items[0]!.etag,
      id: instanceId,
      status: 'cancelled',
      recurringEventId: master.id,
      originalStartTime: { dateTime: '2030-03-05T09:00:00Z', timeZone: 'UTC' },
    });
    const live = emu.listAllEvents(calendarId, { singleEvents: true }).map((e) => e.id);
    t.notOk(live.includes(instanceId), 'the instance is gone from the live state');
    t.equal(live.length, 2);
    const again = await failure(cal.events.delete({ calendarId, eventId: instanceId }));
    t.equal(again.status, 410, 'deleting it again is 410 deleted');
  }
});

t.test('patching one instance creates an exception returned alongside the series', async (t) => {
  const { emu, cal } = await setup(t);
  const master = emu.insertEvent(CAL, {
    summary: 'standup',
    start: { dateTime: '2030-03-04T09:00:00Z', timeZone: 'UTC' },
    end: { dateTime: '2030-03-04T10:00:00Z', timeZone: 'UTC' },
    recurrence: ['RRULE:FREQ=DAILY;COUNT=3'],
  });
  const instanceId = `${master.id}_20300306T090000Z`;
  const { data } = await cal.events.patch({
    calendarId: CAL, eventId: instanceId,
    requestBody: { summary: 'standup (moved)', start: { dateTime: '2030-03-06T11:00:00Z' }, end: { dateTime: '2030-03-06T12:00:00Z' } },
  });
  t.equal(data.id, instanceId);
  t.equal(data.recurringEventId, master.id);
  t.same(data.originalStartTime, { dateTime: '2030-03-06T09:00:00Z', timeZone: 'UTC' });
  const single = emu.listAllEvents(CAL, { singleEvents: true });
  t.same(single.map((e) => e.summary), ['standup', 'standup', 'standup (moved)']);
  const notSingle = emu.listAllEvents(CAL);
  t.same(notSingle.map((e) => e.id).sort(), [master.id, instanceId].sort());
  const got = await cal.events.get({ calendarId: CAL, eventId: `${master.id}_20300304T090000Z` });
  t.equal(got.data.recurringEventId, master.id, 'an unmodified instance can be fetched by id');
});

t.test('changing a series rule reports the instances it removed as cancelled (singleEvents incremental)', async (t) => {
  const { emu, cal } = await setup(t);
  const master = emu.insertEvent(CAL, {
    start: { dateTime: '2030-03-04T09:00:00Z', timeZone: 'UTC' },
    end: { dateTime: '2030-03-04T10:00:00Z', timeZone: 'UTC' },
    recurrence: ['RRULE:FREQ=DAILY;COUNT=3'],
  });
  const full = await listAllPages(cal, { calendarId: CAL, singleEvents: true });
  await cal.events.patch({ calendarId: CAL, eventId: master.id!, requestBody: { recurrence: ['RRULE:FREQ=DAILY;COUNT=2'] } });
  const inc = await listAllPages(cal, { calendarId: CAL, singleEvents: true, syncToken: full.nextSyncToken! });
  const byId = new Map(inc.items.map((e) => [e.id, e.status]));
  t.equal(byId.get(`${master.id}_20300306T090000Z`), 'cancelled');
  t.equal(byId.get(`${master.id}_20300304T090000Z`), 'confirmed');
  // Deleting the series cancels every instance and the series itself.
  const mid = inc.nextSyncToken!;
  await cal.events.delete({ calendarId: CAL, eventId: master.id! });
  const gone = await listAllPages(cal, { calendarId: CAL, singleEvents: true, syncToken: mid });
  t.ok(gone.items.every((e) => e.status === 'cancelled'));
  t.ok(gone.items.some((e) => e.id === `${master.id}_20300305T090000Z`));
  t.same(emu.listAllEvents(CAL, { singleEvents: true }), []);
});

t.test('with singleEvents=false a series is listed when any instance overlaps the window', async (t) => {
  const { emu, cal } = await setup(t);
  const master = emu.insertEvent(CAL, {
    start: { dateTime: '2030-03-04T09:00:00Z', timeZone: 'UTC' },
    end: { dateTime: '2030-03-04T10:00:00Z', timeZone: 'UTC' },
    recurrence: ['RRULE:FREQ=WEEKLY;COUNT=4'],
  });
  const inWindow = await cal.events.list({ calendarId: CAL, timeMin: '2030-03-18T00:00:00Z', timeMax: '2030-03-19T00:00:00Z' });
  t.same(inWindow.data.items!.map((e) => e.id), [master.id]);
  const between = await cal.events.list({ calendarId: CAL, timeMin: '2030-03-19T00:00:00Z', timeMax: '2030-03-25T00:00:00Z' });
  t.same(between.data.items, []);
  const single = await cal.events.list({ calendarId: CAL, singleEvents: true, timeMin: '2030-03-18T00:00:00Z', timeMax: '2030-03-26T00:00:00Z' });
  t.same(single.data.items!.map((e) => e.start!.dateTime), ['2030-03-18T09:00:00Z', '2030-03-25T09:00:00Z']);
});
