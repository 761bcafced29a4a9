import t from 'tap';
import { Types } from 'mongoose';
import { connectDatabase } from '../../src/db/connect.js';
import { registerModels } from '../../src/models/index.js';
import { runResyncPass } from '../../src/cron/resync-pass.js';
import type { SyncRequest } from '../../src/sync/types.js';
import { testDbUri } from '../helpers/db.js';

t.test('the resync pass asks for syncs of exactly the calendars pings may have missed', async (t) => {
  const conn = await connectDatabase(testDbUri('resync-pass'));
  t.teardown(async () => {
    await conn.dropDatabase();
    await conn.close();
  });
  const { Calendar } = registerModels(conn);
  const now = new Date('2026-11-25T12:00:00Z');
  const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);
  const accountId = new Types.ObjectId();
  const make = (googleCalendarId: string, fields: Record<string, unknown>) =>
    Calendar.create({ accountId, googleCalendarId, state: 'idle', mode: 'push', lastSyncedAt: minutesAgo(1), ...fields });

  const fresh = await make('fresh', {});
  const stale = await make('stale', { lastSyncedAt: minutesAgo(31) });
  const never = await make('never', { lastSyncedAt: null });
  const polling = await make('polling', { mode: 'polling' });
  const failed = await make('failed', { state: 'failed' });
  const pendingFull = await make('pending-full', { pendingFullSync: true });
  const attention = await make('attention', { state: 'needs_attention', lastSyncedAt: minutesAgo(600) });

  const requested = new Map<string, SyncRequest>();
  let swept = 0;
  const report = await runResyncPass({
    Calendar,
    sync: { requestSync: (id, req = {}) => void requested.set(id, req) },
    sweepStuckSyncs: async () => {
      swept++;
      return ['x'];
    },
    staleMinutes: 30,
    now: () => now,
  });

  t.equal(swept, 1, 'stuck syncs are swept first');
  t.equal(report.stuckReleased, 1);
  t.same(
    [...requested.keys()].sort(),
    [stale, never, polling, failed, pendingFull].map((c) => String(c._id)).sort(),
    'fresh and needs-attention calendars are left alone',
  );
  t.notOk(requested.has(String(fresh._id)));
  t.notOk(requested.has(String(attention._id)));
  t.equal(requested.get(String(pendingFull._id))?.mode, 'full', 'a pending full sync is asked for as full');
  t.equal(requested.get(String(polling._id))?.reason, 'cron:polling');
  t.same(report.byReason, { polling: 1, stale: 1, failed: 1, never_synced: 1, pending_full: 1 });
});
