import t from 'tap';
import { RecentSnapshot } from '../../src/ops/recent-snapshot.js';

/** A computation the test finishes by hand, counting how often it was started. */
function controlled() {
  const pending: { resolve: (v: number) => void; reject: (e: Error) => void }[] = [];
  const compute = () => new Promise<number>((resolve, reject) => pending.push({ resolve, reject }));
  return { compute, pending };
}

t.test('a snapshot is served from memory while young, refreshed in the background while stale, and awaited when too old', async (t) => {
  let now = 1_000_000;
  const { compute, pending } = controlled();
  const errors: unknown[] = [];
  const snap = new RecentSnapshot(compute, { maxAgeMs: 30_000, staleLimitMs: 300_000, now: () => now, onBackgroundError: (e) => errors.push(e) });

  // None yet: the first reads wait for one computation.
  const first = [snap.get(), snap.get()];
  t.equal(pending.length, 1, 'concurrent first reads share one computation');
  pending[0]!.resolve(1);
  t.same((await Promise.all(first)).map((s) => s.value), [1, 1]);
  t.equal((await snap.get()).asOf.getTime(), 1_000_000);

  now += 29_000;
  t.equal((await snap.get()).value, 1, 'young: from memory');
  t.equal(pending.length, 1, 'no computation while young');

  now += 2_000; // 31 s old: stale
  const stale = await snap.get();
  t.equal(stale.value, 1, 'stale: the old value at once…');
  t.equal(pending.length, 2, '…while one refresh runs');
  await snap.get();
  t.equal(pending.length, 2, 'one refresh at a time');
  pending[1]!.resolve(2);
  await new Promise((r) => setImmediate(r));
  const fresh = await snap.get();
  t.equal(fresh.value, 2);
  t.equal(fresh.asOf.getTime(), now, 'as of when the refresh started');

  now += 60_000; // stale again; the background refresh fails
  t.equal((await snap.get()).value, 2);
  pending[2]!.reject(new Error('database down'));
  await new Promise((r) => setImmediate(r));
  t.equal(errors.length, 1, 'a failed background refresh is reported');
  t.equal((await snap.get()).value, 2, 'and keeps the old value');
  t.equal(pending.length, 4, 'the next read tries again');
  pending[3]!.resolve(3);
  await new Promise((r) => setImmediate(r));

  now += 301_000; // past the stale limit: the read waits for fresh counts
  const waiting = snap.get();
  t.equal(pending.length, 5);
  pending[4]!.resolve(4);
  t.equal((await waiting).value, 4, 'too old to show: waited for a fresh one');
});
