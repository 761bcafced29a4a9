import t from 'tap';
import { SyncEngine } from '../../src/sync/engine.js';
import { PRIORITY } from '../../src/sync/priority.js';
import { SyncStateRepository } from '../../src/sync/sync-state.js';
import { createCalendarRow, interfereBeforeWrite, openSyncTestDb } from '../helpers/sync-db.js';
import { testSyncConfig } from '../helpers/sync-harness.js';

t.test('a replica closing while its claim is on the way: close returns only after the lease is let go, the request kept', async (t) => {
  // A rolling deploy's SIGTERM can arrive between a claim's read and its write. The write still lands
  // (it is the lease); if close returned first, the server would close the database and exit, and the
  // calendar would wait for the lease to run out (SYNC_LEASE_SECONDS) before anyone synced it.
  const db = await openSyncTestDb(t, 'close-during-claim');
  const id = await createCalendarRow(db.models, 'closing@group.calendar.google.com');
  await new SyncStateRepository(db.models.Calendar).request(id, { priority: PRIORITY.ping }, new Date());

  // The claim's write (the first updateOne) waits until the test lets it through.
  let letThrough!: () => void;
  let reached!: () => void;
  const through = new Promise<void>((resolve) => (letThrough = resolve));
  const writing = new Promise<void>((resolve) => (reached = resolve));
  const Calendar = interfereBeforeWrite(db.models.Calendar, () => {
    reached();
    return through;
  });
  let clientAsked = 0;
  const engine = new SyncEngine({
    models: { ...db.models, Calendar },
    sync: testSyncConfig(),
    pollMs: 60_000,
    clientFor: () => {
      clientAsked++;
      throw new Error('no Google client while closing');
    },
  });
  engine.start();
  await writing;

  let atClose: Record<string, unknown> | null = null;
  const closed = engine.close().then(async () => {
    atClose = await db.models.Calendar.findById(id, { syncEpoch: 1, syncHeldBy: 1, state: 1, priority: 1, requests: 1 }).lean();
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  letThrough();
  await closed;

  t.match(atClose, { syncEpoch: 1 }, 'the claim in flight landed before close returned');
  t.match(atClose, { syncHeldBy: null, state: 'idle' }, 'and its lease was let go');
  t.match(atClose, { priority: PRIORITY.ping, requests: 1 }, 'the request is still there for another replica');
  t.equal(clientAsked, 0, 'no Google client was built for a pass that could not run');
});
