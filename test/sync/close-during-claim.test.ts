import t from 'tap';
import type { CalendarModel } from '../../src/models/calendar.js';
import { SyncEngine } from '../../src/sync/engine.js';
import { PRIORITY } from '../../src/sync/priority.js';
import { SyncStateRepository } from '../../src/sync/sync-state.js';
import { createCalendarRow, openSyncTestDb } from '../helpers/sync-db.js';
import { testSyncConfig } from '../helpers/sync-harness.js';

/** The Calendar model, except that the first updateOne (the claim's write) waits for `release`. */
function holdFirstWrite(Calendar: CalendarModel): { model: CalendarModel; writing: Promise<void>; release: () => void } {
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const writing = new Promise<void>((resolve) => (reached = resolve));
  let held = false;
  const model = new Proxy(Calendar, {
    get(target, key, receiver) {
      if (key !== 'updateOne' || held) return Reflect.get(target, key, receiver) as unknown;
      return async (...args: Parameters<CalendarModel['updateOne']>) => {
        held = true;
        reached();
        await released;
        return target.updateOne(...args);
      };
    },
  });
  return { model, writing, release };
}

t.test('a replica closing while its claim is on the way: close returns only after the lease is let go, the request kept', async (t) => {
  // A rolling deploy's SIGTERM can arrive between a claim's read and its write. The write still lands
  // (it is the lease); if close returned first, the server would close the database and exit, and the
  // calendar would wait for the lease to run out (SYNC_LEASE_SECONDS) before anyone synced it.
  const db = await openSyncTestDb(t, 'close-during-claim');
  const id = await createCalendarRow(db.models, 'closing@group.calendar.google.com');
  await new SyncStateRepository(db.models.Calendar).request(id, { priority: PRIORITY.ping }, new Date());

  const gated = holdFirstWrite(db.models.Calendar);
  let clientAsked = 0;
  const engine = new SyncEngine({
    models: { ...db.models, Calendar: gated.model },
    sync: testSyncConfig(),
    pollMs: 60_000,
    clientFor: () => {
      clientAsked++;
      throw new Error('no Google client while closing');
    },
  });
  engine.start();
  await gated.writing;

  let atClose: Record<string, unknown> | null = null;
  const closed = engine.close().then(async () => {
    atClose = await db.models.Calendar.findById(id, { syncEpoch: 1, syncHeldBy: 1, state: 1, priority: 1, requests: 1 }).lean();
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  gated.release();
  await closed;

  t.match(atClose, { syncEpoch: 1 }, 'the claim in flight landed before close returned');
  t.match(atClose, { syncHeldBy: null, state: 'idle' }, 'and its lease was let go');
  t.match(atClose, { priority: PRIORITY.ping, requests: 1 }, 'the request is still there for another replica');
  t.equal(clientAsked, 0, 'no Google client was built for a pass that could not run');
});
