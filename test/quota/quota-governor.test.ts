import { Types, type Connection } from 'mongoose';
import t from 'tap';
import { busiestWindow } from '../../src/emulator/index.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { QuotaGovernor, sliceBudget, type QuotaGovernorOptions } from '../../src/quota/quota-governor.js';
import { prometheusQuotaMetrics } from '../../src/quota/quota-metrics.js';
import { PRIORITY, type Priority } from '../../src/sync/priority.js';
import { connectDatabase } from '../../src/db/connect.js';
import { openSyncTestDb } from '../helpers/sync-db.js';
import { TcpProxy, uriThroughProxy } from '../helpers/tcp-proxy.js';

const db = await openSyncTestDb(t, 'quota-governor');
const replica2: Connection = (await db.connect()).Calendar.db;

/** A slice so long that no test here crosses its end (the slices are aligned to the clock). */
const LONG = { windowMs: 2e9, slices: 1 };

class WouldWait extends Error {}

/** A governor whose waits throw instead of sleeping, so a test sees the first refusal. */
function strictGovernor(opts: Partial<QuotaGovernorOptions>, conn: Connection = db.conn): QuotaGovernor {
  return new QuotaGovernor({
    conn,
    perUserPerMinute: 1_000_000,
    perProjectPerMinute: 100_000_000,
    ...LONG,
    collection: `quota_${new Types.ObjectId().toHexString()}`,
    sleep: () => Promise.reject(new WouldWait()),
    ...opts,
  });
}

const account = () => new Types.ObjectId().toHexString();

/** How many calls of `priority` the account gets before the first one that would wait. */
async function callsUntilRefused(quota: QuotaGovernor, accountId: string, priority: Priority, limit = 1000): Promise<number> {
  for (let n = 0; n < limit; n++) {
    try {
      await quota.acquire(accountId, priority);
    } catch (err) {
      if (err instanceof WouldWait) return n;
      throw err;
    }
  }
  return limit;
}

t.test('sliceBudget keeps any window of `slices` slices within the budget', async (t) => {
  t.equal(sliceBudget(500, 12), 38);
  t.equal(sliceBudget(9000, 12), 692);
  t.ok(sliceBudget(500, 12) * 13 <= 500, 'slices + 1 slices fit the budget');
  t.equal(sliceBudget(3, 12), 1, 'never zero');
});

t.test('bad settings are refused', async (t) => {
  t.throws(() => strictGovernor({ perUserPerMinute: 0 }), /budgets must be positive/);
  t.throws(() => strictGovernor({ slices: 0 }), /slices must be positive/);
});

t.test('each priority class may use only its share of the account budget', async (t) => {
  // 40 per window, one slice: 20 per slice.
  const quota = strictGovernor({ perUserPerMinute: 40 });
  const shares: Array<[Priority, number]> = [
    [PRIORITY.ping, 20],
    [PRIORITY.recovery, 18],
    [PRIORITY.renewal, 15],
    [PRIORITY.safetyNet, 10],
  ];
  for (const [priority, expected] of shares) t.equal(await callsUntilRefused(quota, account(), priority), expected, `priority ${priority}`);

  // A safety-net sweep that spent its share leaves the rest to pings; its refused calls cost nothing.
  const busy = account();
  t.equal(await callsUntilRefused(quota, busy, PRIORITY.safetyNet), 10);
  t.equal(await callsUntilRefused(quota, busy, PRIORITY.safetyNet), 0, 'refused again');
  t.equal(await callsUntilRefused(quota, busy, PRIORITY.ping), 10, 'pings get the other half');
});

t.test('the project budget is shared by every account and applies the same shares', async (t) => {
  const quota = strictGovernor({ perProjectPerMinute: 40 }); // 20 per slice
  let taken = 0;
  for (let i = 0; i < 10; i++) taken += await callsUntilRefused(quota, account(), PRIORITY.safetyNet, 1);
  t.equal(taken, 10, 'ten accounts, one call each, within half the project budget');
  t.equal(await callsUntilRefused(quota, account(), PRIORITY.safetyNet), 0, 'a new account still meets the project budget');
  t.equal(await callsUntilRefused(quota, account(), PRIORITY.ping), 10, 'pings use the rest');
});

t.test('waitFor takes nothing from the budget', async (t) => {
  const quota = strictGovernor({ perUserPerMinute: 20 }); // 10 per slice
  const id = account();
  for (let i = 0; i < 30; i++) t.equal(await quota.waitFor(id, PRIORITY.ping), 0);
  t.equal(await callsUntilRefused(quota, id, PRIORITY.ping), 10, 'the whole budget is still there');
  t.ok((await quota.waitFor(id, PRIORITY.ping)) > 0, 'a spent budget makes waitFor answer a wait');
  t.ok((await quota.waitFor(id, PRIORITY.safetyNet)) > 0);
  t.equal(await quota.waitFor(account(), PRIORITY.ping), 0, 'other accounts are not affected');
});

/**
 * Two callers on each of two replicas, always asking for 2 s: the governor alone decides the pace.
 * Each call is timed when `acquire` hands it over, as a caller would send it to Google right then.
 */
async function callsOfTwoReplicas(first: Connection, second: Connection): Promise<{ budget: number; windowMs: number; taken: number[] }> {
  const windowMs = 600;
  const budget = 20;
  const collection = `quota_${new Types.ObjectId().toHexString()}`;
  const options = { perUserPerMinute: budget, perProjectPerMinute: 1000, windowMs, slices: 3, collection };
  const replicas = [new QuotaGovernor({ conn: first, ...options }), new QuotaGovernor({ conn: second, ...options })];
  const id = account();
  const taken: number[] = [];
  const until = Date.now() + 2_000;
  await Promise.all(
    [0, 1, 0, 1].map(async (r) => {
      while (Date.now() < until) {
        await replicas[r]!.acquire(id, PRIORITY.ping);
        taken.push(Date.now());
      }
    }),
  );
  return { budget, windowMs, taken };
}

t.test('two replicas never exceed the budget in any sliding window', async (t) => {
  const { budget, windowMs, taken } = await callsOfTwoReplicas(db.conn, replica2);
  const busiest = busiestWindow(taken.map((at) => ({ at })), windowMs);
  t.ok(busiest <= budget, `busiest ${windowMs} ms window: ${busiest} calls (budget ${budget})`);
  // 2 s is at least 9 whole slices of 5 calls: the budget is used, not just respected (with room
  // for a slow database on a busy machine).
  t.ok(taken.length >= 20, `${taken.length} calls in 2 s`);
});

t.test('a replica whose database stalls never hands over calls counted in a slice that has ended', async (t) => {
  // The database holds every request for 2.5 slices, then answers them all at once: charges counted
  // in slices long gone must not become calls on top of the budget of the slices that follow.
  const proxy = new TcpProxy('127.0.0.1', Number(new URL(db.uri).port));
  await proxy.start();
  const stalling = await Promise.all([0, 1].map(() => connectDatabase(uriThroughProxy(db.uri, proxy.port))));
  t.teardown(async () => {
    await Promise.all(stalling.map((c) => c.close()));
    await proxy.stop();
  });
  const stall = (async () => {
    await new Promise((r) => setTimeout(r, 500));
    proxy.pause();
    // Answers arrive mid-slice (slices are 200 ms, aligned to the clock), so the window that starts
    // then also reaches the starts of the next three slices.
    const resumeAt = Math.ceil((Date.now() + 400) / 200) * 200 + 100;
    await new Promise((r) => setTimeout(r, resumeAt - Date.now()));
    proxy.resume();
  })();
  const { budget, windowMs, taken } = await callsOfTwoReplicas(stalling[0]!, stalling[1]!);
  await stall;
  const busiest = busiestWindow(taken.map((at) => ({ at })), windowMs);
  t.ok(busiest <= budget, `busiest ${windowMs} ms window: ${busiest} calls (budget ${budget})`);
  t.ok(taken.length >= 20, `${taken.length} calls in 2 s`);
});

t.test('throttled blocks the account on every replica, for as long as asked', async (t) => {
  const collection = `quota_${new Types.ObjectId().toHexString()}`;
  const options = { perUserPerMinute: 1000, perProjectPerMinute: 1000, windowMs: 3_000, slices: 6, collection };
  const a = new QuotaGovernor({ conn: db.conn, ...options });
  const b = new QuotaGovernor({ conn: replica2, ...options });
  const id = account();
  const blockedAt = Date.now();
  await a.throttled(id, 1_200);
  const wait = await b.waitFor(id, PRIORITY.ping);
  // What is left of the 1.2 s when the answer arrives (the database may be slow on a busy machine).
  t.ok(wait >= 1_200 - (Date.now() - blockedAt) - 20, `the other replica sees the block (${wait} ms)`);
  t.equal(await b.waitFor(account(), PRIORITY.ping), 0, 'other accounts go on');

  const started = Date.now();
  await b.acquire(id, PRIORITY.ping);
  t.ok(Date.now() - started >= 1_000, `the other replica's call waited ${Date.now() - started} ms`);
});

t.test('acquire stops waiting when its signal aborts', async (t) => {
  const quota = new QuotaGovernor({ conn: db.conn, perUserPerMinute: 2, perProjectPerMinute: 2, ...LONG, collection: `quota_${new Types.ObjectId().toHexString()}` });
  const id = account();
  await quota.acquire(id, PRIORITY.ping);
  const abort = new AbortController();
  const waiting = quota.acquire(id, PRIORITY.ping, abort.signal);
  abort.abort(new Error('closing'));
  await t.rejects(waiting, /closing/);
});

t.test('metrics: budget used and calls that had to wait', async (t) => {
  const metrics = createMetrics();
  const quota = strictGovernor({ perUserPerMinute: 20, perProjectPerMinute: 200, metrics: prometheusQuotaMetrics(metrics) });
  const id = account();
  for (let i = 0; i < 5; i++) await quota.acquire(id, PRIORITY.ping);
  const used = async () => Object.fromEntries((await metrics.quotaBudgetUsed.get()).values.map((v) => [v.labels.scope, v.value]));
  t.same(await used(), { account: 0.5, project: 0.05 });
  await quota.acquire(account(), PRIORITY.ping);
  t.same(await used(), { account: 0.5, project: 0.06 }, 'account: the busiest account in the slice');

  t.equal(await callsUntilRefused(quota, id, PRIORITY.safetyNet), 0);
  const throttled = (await metrics.quotaThrottled.get()).values;
  t.same(
    throttled.map((v) => [v.labels, v.value]),
    [[{ scope: 'account', priority: 'safety_net' }, 1]],
  );
});
