import t from 'tap';
import type { QuotaGate } from '../../src/quota/quota-gate.js';
import { PRIORITY } from '../../src/sync/priority.js';
import { SyncStateRepository } from '../../src/sync/sync-state.js';
import { startSyncHarness } from '../helpers/sync-harness.js';
import { waitFor } from '../helpers/wait-for.js';

t.test('a pass that throws past its error handling lets its calendar go at once, requests kept, and it syncs after the back-off', async (t) => {
  // A 120 s lease: without the release the calendar would stay held far past this test's wait.
  const h = await startSyncHarness(t, 'crash-release', { SYNC_LEASE_SECONDS: '120', SYNC_RETRY_AFTER_FAILURE_SECONDS: '1' });
  h.seed(3);
  let calls = 0;
  // The quota read is the first database read of a pass: it fails once, as a database that went away.
  const quota: QuotaGate = {
    acquire: async () => undefined,
    waitFor: async () => {
      if (++calls === 1) throw new Error('connection closed');
      return 0;
    },
    throttled: async () => undefined,
  };
  await new SyncStateRepository(h.models.Calendar).request(h.calendarId, { priority: PRIORITY.ping }, new Date());
  h.engine({ quota }, { start: true });

  await waitFor(async () => calls >= 1 && !(await h.calendar()).syncHeldBy, { timeoutMs: 5_000, what: 'the crashed pass to let the calendar go' });
  const released = await h.calendar();
  t.ok(released.requests >= 1, 'its request is kept');
  t.notOk(released.lastSyncedAt, 'not synced yet');

  await waitFor(async () => Boolean((await h.calendar()).lastSyncedAt), { timeoutMs: 10_000, what: 'the calendar synced after the back-off' });
  t.equal(calls, 2, 'one more pass');
  await h.assertMirrorExact(t);
});
