import t from 'tap';
import { Types } from 'mongoose';
import type { QuotaGate } from '../../src/quota/quota-gate.js';
import { PRIORITY } from '../../src/sync/priority.js';
import { SyncStateRepository } from '../../src/sync/sync-state.js';
import { createCalendarRow } from '../helpers/sync-db.js';
import { startSyncHarness } from '../helpers/sync-harness.js';
import { waitFor } from '../helpers/wait-for.js';

t.test('an account out of quota: one of its calendars is claimed and deferred, the rest wait unclaimed and other accounts go on', async (t) => {
  const h = await startSyncHarness(t, 'quota-deferrals', { SYNC_CONCURRENCY: '1' });
  const spent = new Types.ObjectId();
  const WAIT_MS = 20_000;
  const quota: QuotaGate = {
    acquire: async () => undefined,
    waitFor: async (accountId, priority) => (accountId === String(spent) && priority >= PRIORITY.safetyNet ? WAIT_MS : 0),
    throttled: async () => undefined,
  };
  const state = new SyncStateRepository(h.models.Calendar);
  const now = new Date();
  const spentIds: string[] = [];
  for (let i = 0; i < 5; i++) {
    const gcal = `spent-${i}@group.calendar.google.com`;
    h.emu.createCalendar(gcal);
    const id = await createCalendarRow(h.models, gcal, { accountId: spent });
    // Due before the other account's calendar: claim order alone would take all five first.
    await state.request(id, { priority: PRIORITY.safetyNet, at: new Date(now.getTime() - 60_000 + i) }, now);
    spentIds.push(id);
  }
  await state.request(h.calendarId, { priority: PRIORITY.safetyNet }, now);

  // Candidates in claim order (no random starting point), so all five come before the other account's.
  h.engine({ quota, random: () => 0 }, { start: true });
  // The pass's outcome is reported just after its last write: wait for both, or a loaded machine
  // reads the outcomes between the two.
  await waitFor(async () => Boolean((await h.calendar()).lastSyncedAt) && h.outcomes.some((o) => o.status === 'ok'), {
    timeoutMs: 20_000,
    what: "the other account's calendar synced",
  });

  const docs = await h.models.Calendar.find({ _id: { $in: spentIds } }, { syncEpoch: 1, syncNotBefore: 1, requests: 1, priority: 1 }).lean();
  const claimed = docs.filter((d) => (d.syncEpoch ?? 0) > 0);
  t.equal(claimed.length, 1, 'one calendar of the spent account was claimed (and deferred by the governor)');
  for (const d of docs) {
    t.ok(d.syncNotBefore!.getTime() >= now.getTime() + WAIT_MS - 1_000, 'every one waits for the budget');
    t.match(d, { requests: 1, priority: PRIORITY.safetyNet }, 'with its request kept');
  }
  t.equal(h.outcomes.filter((o) => o.status === 'ok').length, 1, 'the other account\'s calendar synced meanwhile');
});
