// calsync with SYNC_SINGLE_EVENTS=false mirrors series (not instances) plus their exceptions.
// Google lists a live series' cancelled instances in such listings, full or incremental
// (events.list `showDeleted`; Event `status`: keep them "for the lifetime of the parent
// recurring event"), so the mirror must hold them the same way whichever sync brought them,
// and across a 410 recovery, or a client expanding the series would bring deleted occurrences back.

import t from 'tap';
import { Types } from 'mongoose';
import { storePage } from '../../src/sync/mirror-writer.js';
import { openSyncTestDb } from '../helpers/sync-db.js';
import { startSyncHarness, type SyncHarness } from '../helpers/sync-harness.js';

const DAY_MS = 86_400_000;
const SERIES_DAYS = 5;

/** A daily series inside the sync window, starting tomorrow at 10:00 UTC. */
function seriesBody(summary = 'daily standup') {
  const day = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS + DAY_MS);
  const start = new Date(day.getTime() + 10 * 3_600_000);
  return {
    summary,
    start: { dateTime: start.toISOString(), timeZone: 'UTC' },
    end: { dateTime: new Date(start.getTime() + 900_000).toISOString(), timeZone: 'UTC' },
    recurrence: [`RRULE:FREQ=DAILY;COUNT=${SERIES_DAYS}`],
  };
}

/** Id of the n-th (0-based) instance of a series created by seriesBody(). */
function instanceId(h: SyncHarness, seriesId: string, n: number): string {
  const instances = h.emu.listAllEvents(h.gcalId, { singleEvents: true }).filter((e) => e.recurringEventId === seriesId);
  return instances[n]!.id!;
}

const mirrored = async (h: SyncHarness, id: string) =>
  h.models.Event.findOne({ calendarId: new Types.ObjectId(h.calendarId), googleEventId: id }).lean();

async function startSingleEventsFalse(t: Parameters<typeof startSyncHarness>[0], name: string) {
  const h = await startSyncHarness(t, name, { SYNC_SINGLE_EVENTS: 'false' });
  return h;
}

t.test('a full sync mirrors a series with its modified and cancelled exceptions', async (t) => {
  const h = await startSingleEventsFalse(t, 'sef-full');
  const series = h.emu.insertEvent(h.gcalId, seriesBody());
  h.seed(3);
  const moved = instanceId(h, series.id!, 1);
  const cancelled = instanceId(h, series.id!, 2);
  h.emu.patchEvent(h.gcalId, moved, { summary: 'standup, moved room' });
  h.emu.deleteEvent(h.gcalId, cancelled);
  t.match((await h.engine().syncCalendar(h.calendarId)).passes, [{ mode: 'full', status: 'ok' }]);
  await h.assertMirrorExact(t);
  t.match(await mirrored(h, cancelled), { status: 'cancelled', recurringEventId: series.id }, 'the cancelled occurrence is kept, marked cancelled');
});

t.test('an incremental sync keeps a newly cancelled occurrence, and a 410 recovery keeps it too', async (t) => {
  const h = await startSingleEventsFalse(t, 'sef-410');
  const series = h.emu.insertEvent(h.gcalId, seriesBody());
  h.seed(3);
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  await h.assertMirrorExact(t, 'after the full sync');

  const cancelled = instanceId(h, series.id!, 3);
  h.emu.deleteEvent(h.gcalId, cancelled);
  t.match((await engine.syncCalendar(h.calendarId)).passes, [{ mode: 'incremental', status: 'ok' }]);
  await h.assertMirrorExact(t, 'after the incremental sync');
  t.match(await mirrored(h, cancelled), { status: 'cancelled', recurringEventId: series.id });

  h.emu.invalidateSyncTokens(h.gcalId);
  h.emu.setPaging({ maxPageSize: 2 });
  t.match((await engine.syncCalendar(h.calendarId)).passes, [{ mode: 'full', status: 'ok', fallback: true, tokenExpired: true }]);
  await h.assertMirrorExact(t, 'after the 410 recovery');
  t.match(await mirrored(h, cancelled), { status: 'cancelled' }, 'the occurrence is still cancelled in the mirror');
});

t.test('deleting the series removes it and its cancelled occurrences from the mirror, whatever the page order', async (t) => {
  const h = await startSingleEventsFalse(t, 'sef-series-deleted');
  const series = h.emu.insertEvent(h.gcalId, seriesBody());
  const other = h.emu.insertEvent(h.gcalId, seriesBody('other series'));
  const engine = h.engine();
  h.emu.deleteEvent(h.gcalId, instanceId(h, series.id!, 0));
  h.emu.deleteEvent(h.gcalId, instanceId(h, other.id!, 0));
  await engine.syncCalendar(h.calendarId);
  await h.assertMirrorExact(t, 'both series with one cancelled occurrence each');

  h.emu.deleteEvent(h.gcalId, series.id!);
  h.emu.setPaging({ maxPageSize: 1 }); // the series and its occurrences arrive on separate pages
  t.match((await engine.syncCalendar(h.calendarId)).passes, [{ mode: 'incremental', status: 'ok' }]);
  await h.assertMirrorExact(t, 'after the incremental sync');
  t.equal(await h.models.Event.countDocuments({ calendarId: new Types.ObjectId(h.calendarId), recurringEventId: series.id }), 0);

  h.emu.invalidateSyncTokens(h.gcalId);
  await engine.syncCalendar(h.calendarId);
  await h.assertMirrorExact(t, 'after a 410 recovery');
});

t.test('a rename of the series reaches unmodified exceptions in the mirror through an incremental sync', async (t) => {
  const h = await startSingleEventsFalse(t, 'sef-rename');
  const series = h.emu.insertEvent(h.gcalId, seriesBody());
  const exception = instanceId(h, series.id!, 1);
  h.emu.patchEvent(h.gcalId, exception, { location: 'room 2' });
  const engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  h.emu.patchEvent(h.gcalId, series.id!, { summary: 'renamed standup' });
  await engine.syncCalendar(h.calendarId);
  await h.assertMirrorExact(t);
  t.match(await mirrored(h, exception), { summary: 'renamed standup' });
});

t.test('a cancelled occurrence seen before its series\' deletion is still removed with the series', async (t) => {
  // Google's order of items is unspecified; the emulator's (by id) always puts the series first,
  // so the other order is fed to the mirror writer directly.
  const db = await openSyncTestDb(t, 'sef-reverse-order');
  const calendarId = new Types.ObjectId();
  const now = new Date();
  const series = { id: 'series00001', etag: '"1"', status: 'confirmed', summary: 's', recurrence: ['RRULE:FREQ=DAILY;COUNT=3'] };
  const occurrence = { id: 'series00001_20300101T100000Z', etag: '"2"', status: 'cancelled', recurringEventId: 'series00001', originalStartTime: { dateTime: '2030-01-01T10:00:00Z' } };
  await storePage(db.models.Event, calendarId, [series], { now, epoch: 0 });
  await storePage(db.models.Event, calendarId, [occurrence], { now, epoch: 0 });
  t.equal(await db.models.Event.countDocuments({ calendarId }), 2, 'the occurrence is kept while the series lives');
  await storePage(db.models.Event, calendarId, [{ id: 'series00001', etag: '"3"', status: 'cancelled' }], { now, epoch: 0 });
  t.equal(await db.models.Event.countDocuments({ calendarId }), 0, 'deleting the series takes its cancelled occurrence along');
  await storePage(db.models.Event, calendarId, [occurrence], { now, epoch: 0 });
  t.equal(await db.models.Event.countDocuments({ calendarId }), 0, 'a late tombstone of a deleted series is not kept');
});
