// The renewal pass at fleet scale: due calendars are claimed one by one, so three services
// instances (replicas) running one pass at once share 1,000 due calendars and open exactly one
// channel each. (Speed belongs in bench/; the timeout only covers the slow test database.)
import t from 'tap';
import { Types } from 'mongoose';
import { pino } from 'pino';
import { googleClientBuilder } from '../../src/accounts/calendar-clients.js';
import { channelModel } from '../../src/channels/channel-model.js';
import { connectDatabase } from '../../src/db/connect.js';
import { calendarModel } from '../../src/models/calendar.js';
import { createServices } from '../../src/services.js';
import { startPushHarness, type PushHarness } from '../helpers/push-harness.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const watchCalls = (h: PushHarness): number => h.emu.stats()['events.watch'] ?? 0;

t.setTimeout(400_000);

t.test('1,000 calendars with channels due: one pass across three services instances costs exactly one events.watch per calendar', async (t) => {
  const h = await startPushHarness(t, { name: 'claims-fleet', sync: 'recording' });
  const N = 1000;
  const accountId = new Types.ObjectId(await h.accountId());
  const past = new Date(h.now() - 60_000);
  const calendars = Array.from({ length: N }, (_, i) => ({ _id: new Types.ObjectId(), accountId, googleCalendarId: `fleet-${i}@group.calendar.google.com` }));
  for (const c of calendars) h.emu.createCalendar(c.googleCalendarId);
  // Written directly (the admin API would open 1,000 channels first): each calendar has an active
  // channel about to expire (never confirmed at Google, so retiring it needs no stop call), and its
  // channel work is due.
  const started = Date.now();
  await calendarModel(h.conn).insertMany(calendars.map((c) => ({ ...c, channelCheckAt: past })));
  await channelModel(h.conn).insertMany(
    calendars.map((c, i) => ({
      _id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      calendarId: c._id,
      accountId,
      googleCalendarId: c.googleCalendarId,
      tokenHash: 'x',
      status: 'active',
      expiration: new Date(h.now() + HOUR),
    })),
  );
  // Calendars not due stay untouched: fifty more with a channel far from its lead.
  const later = new Date(h.now() + 10 * DAY);
  await calendarModel(h.conn).insertMany(
    Array.from({ length: 50 }, (_, i) => ({ accountId, googleCalendarId: `fleet-later-${i}@group.calendar.google.com`, channelCheckAt: later })),
  );
  t.comment(`seeded in ${Date.now() - started} ms`);

  const log = pino({ level: 'silent' });
  const instances = await Promise.all(
    [0, 1, 2].map(async () => {
      const conn = await connectDatabase(h.dbUri);
      t.teardown(() => conn.close());
      return createServices(h.config, conn, log, { buildClient: googleClientBuilder(h.config.google), now: h.now });
    }),
  );
  const watches = watchCalls(h);
  const passStarted = Date.now();
  const reports = await Promise.all(instances.map((s) => s.renewChannels()));
  t.comment(`pass across three instances: ${Date.now() - passStarted} ms`);
  t.equal(watchCalls(h) - watches, N, 'exactly one events.watch per due calendar');
  t.equal(reports.reduce((n, r) => n + r.renewed, 0), N);
  t.ok(reports.every((r) => r.renewed > 0), 'every instance took a share');
  t.same(reports.flatMap((r) => r.failed), []);
  const Channel = channelModel(h.conn);
  t.equal(await Channel.countDocuments({ status: 'active' }), N, 'one active channel per calendar');
  t.equal(await Channel.countDocuments({ status: 'superseded' }), 0, 'every old channel retired');
  t.equal(await calendarModel(h.conn).countDocuments({ channelCheckAt: later, channelEpoch: 0 }), 50, 'calendars not due were never claimed');
  for (const s of instances) await s.close();
});
