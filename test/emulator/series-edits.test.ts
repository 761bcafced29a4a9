// A series edit reaches its exceptions (the behaviour docs/emulator.md describes for Google):
// fields the series changes are copied into the exceptions that did not override them, and
// each exception changed is a new version, so an incremental sync reports it.

import t from 'tap';
import { listAllPages, setup } from './fixtures/harness.js';

const CAL = 'team@example.com';

t.test('renaming a series renames exceptions that kept the old name, and an incremental sync reports them', async (t) => {
  const { emu, cal } = await setup(t);
  const series = emu.insertEvent(CAL, {
    summary: 'standup', location: 'room 1',
    start: { dateTime: '2030-03-04T09:00:00Z', timeZone: 'UTC' },
    end: { dateTime: '2030-03-04T09:15:00Z', timeZone: 'UTC' },
    recurrence: ['RRULE:FREQ=DAILY;COUNT=5'],
  });
  const moved = emu.patchEvent(CAL, `${series.id}_20300305T090000Z`, { location: 'room 2' });
  const renamed = emu.patchEvent(CAL, `${series.id}_20300306T090000Z`, { summary: 'special standup' });
  const { nextSyncToken } = await listAllPages(cal, { calendarId: CAL, singleEvents: false });

  emu.patchEvent(CAL, series.id!, { summary: 'daily standup', location: 'room 3' });

  const inc = await listAllPages(cal, { calendarId: CAL, singleEvents: false, syncToken: nextSyncToken });
  const byId = new Map(inc.items.map((e) => [e.id, e]));
  t.same([...byId.keys()].sort(), [series.id, moved.id, renamed.id].sort(), 'the series and both touched exceptions');
  t.match(byId.get(moved.id), { summary: 'daily standup', location: 'room 2' }, 'new name, own location kept');
  t.match(byId.get(renamed.id), { summary: 'special standup', location: 'room 3' }, 'own name kept, new location');
  t.not(byId.get(moved.id)!.etag, moved.etag, 'a new version');
  const expanded = emu.listAllEvents(CAL, { singleEvents: true });
  t.same(expanded.map((e) => e.summary), ['daily standup', 'daily standup', 'special standup', 'daily standup', 'daily standup']);
});

t.test('an exception that overrode every edited field is not rewritten', async (t) => {
  const { emu, cal } = await setup(t);
  const series = emu.insertEvent(CAL, {
    summary: 'standup',
    start: { dateTime: '2030-03-04T09:00:00Z', timeZone: 'UTC' },
    end: { dateTime: '2030-03-04T09:15:00Z', timeZone: 'UTC' },
    recurrence: ['RRULE:FREQ=DAILY;COUNT=3'],
  });
  const own = emu.patchEvent(CAL, `${series.id}_20300305T090000Z`, { summary: 'mine' });
  const { nextSyncToken } = await listAllPages(cal, { calendarId: CAL, singleEvents: false });
  emu.patchEvent(CAL, series.id!, { summary: 'renamed' });
  const inc = await listAllPages(cal, { calendarId: CAL, singleEvents: false, syncToken: nextSyncToken });
  t.same(inc.items.map((e) => e.id), [series.id]);
  t.equal(emu.listAllEvents(CAL).find((e) => e.id === own.id)!.etag, own.etag);
});
