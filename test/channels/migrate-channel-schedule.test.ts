import t from 'tap';
import { Types } from 'mongoose';
import { migrateChannelSchedule } from '../../src/channels/migrate-channel-schedule.js';
import { connectDatabase } from '../../src/db/connect.js';
import { registerModels } from '../../src/models/index.js';
import { NEVER } from '../../src/sync/priority.js';
import { testDbUri } from '../helpers/db.js';

const LEAD_SECONDS = 86_400;

t.test('documents from before channel scheduling get their due times once', async (t) => {
  const conn = await connectDatabase(testDbUri('migrate-channel-schedule'));
  t.teardown(async () => {
    await conn.dropDatabase().catch(() => undefined);
    await conn.close();
  });
  const models = registerModels(conn);
  const now = new Date('2026-11-29T00:00:00Z');
  const accountId = new Types.ObjectId();
  const [withChannel, withoutChannel, polled] = [new Types.ObjectId(), new Types.ObjectId(), new Types.ObjectId()];
  // Written raw, as the previous version left them: no channel scheduling fields.
  await conn.collection('calendars').insertMany([
    { _id: withChannel, accountId, googleCalendarId: 'a', mode: 'push' },
    { _id: withoutChannel, accountId, googleCalendarId: 'b', mode: 'push' },
    { _id: polled, accountId, googleCalendarId: 'c', mode: 'polling' },
  ]);
  const expiration = new Date(now.getTime() + 40 * 3_600_000);
  await conn.collection('channels').insertMany([
    { _id: 'active-1' as never, calendarId: withChannel, accountId, status: 'active', expiration },
    { _id: 'old-1' as never, calendarId: withChannel, accountId, status: 'superseded', stopClaimUntil: null },
  ]);

  t.equal(await migrateChannelSchedule(conn, models, LEAD_SECONDS, now), true);
  const cal = async (id: Types.ObjectId) => conn.collection('calendars').findOne({ _id: id });
  t.same((await cal(withChannel))?.channelCheckAt, new Date(expiration.getTime() - LEAD_SECONDS * 1000), 'due when its channel enters the lead');
  t.same((await cal(withoutChannel))?.channelCheckAt, now, 'no channel: due now');
  t.same((await cal(polled))?.channelCheckAt, NEVER, 'polled: never');
  t.equal((await cal(withChannel))?.channelHeldBy, null);
  const old = await conn.collection('channels').findOne({ _id: 'old-1' as never });
  t.same(old?.stopNotBefore, now, 'a superseded channel’s stop is due now');
  t.notOk('stopClaimUntil' in (old ?? {}), 'the old stop claim field is gone');
  t.same((await conn.collection('channels').findOne({ _id: 'active-1' as never }))?.stopNotBefore, NEVER);

  // Once per database: a second run changes nothing.
  await conn.collection('calendars').insertOne({ _id: new Types.ObjectId(), accountId, googleCalendarId: 'd', mode: 'push' });
  t.equal(await migrateChannelSchedule(conn, models, LEAD_SECONDS, now), false);
  t.equal(await conn.collection('calendars').countDocuments({ channelCheckAt: { $exists: false } }), 1);
});
