import t, { type Test } from 'tap';
import { KeyRing } from '../../src/crypto/key-ring.js';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { ChangeFeed, type FeedChange } from '../../src/changes/change-feed.js';
import { decodeCursor } from '../../src/changes/cursor.js';
import { FeedPositions } from '../../src/changes/positions.js';
import { signedRequest } from '../../src/subscriptions/deliver.js';
import { DeliveryWorker, type DeliveryWorkerOptions } from '../../src/subscriptions/delivery-worker.js';
import { SubscriptionService } from '../../src/subscriptions/subscription-service.js';
import { eventBody, startSyncHarness, type SyncHarness } from '../helpers/sync-harness.js';
import { mirrorEtags, replayFeed, sorted } from '../helpers/feed-replay.js';
import { startSubscriber } from '../helpers/webhook-subscriber.js';
import { waitFor } from '../helpers/wait-for.js';

const DAY_MS = 86_400_000;
const policy = { allowLoopback: true };

/** A PRNG with a seed, so a failing workload can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

async function subscribed(t: Test, h: SyncHarness, opts: Partial<DeliveryWorkerOptions> = {}, input: { calendarIds?: string[] } = {}) {
  const subscriber = await startSubscriber();
  t.teardown(() => subscriber.close());
  const subscriptions = new SubscriptionService(h.db.conn, { keys: new KeyRing([randomBytes(32)]), policy, now: opts.now });
  const { id, secret } = await subscriptions.create({ url: subscriber.url, ...input });
  subscriber.secret = secret;
  const worker = new DeliveryWorker({
    conn: h.db.conn,
    subscriptions,
    policy,
    batchSize: 4,
    concurrency: 2,
    timeoutMs: 2000,
    retryForMs: 3_600_000,
    backoffMaxMs: 40,
    backoffBaseMs: 5,
    pollMs: 30,
    idleMs: 50,
    ...opts,
  });
  t.teardown(() => worker.close());
  worker.start();
  const positions = new FeedPositions(h.db.conn);
  /** Resolves when the subscription has been delivered everything visible now. */
  const caughtUp = async () => {
    const upTo = await positions.visibleUpTo(new Date());
    await waitFor(async () => ((await subscriptions.Subscription.findById(id).lean())?.position ?? 0) >= upTo, { what: 'the subscriber to catch up', timeoutMs: 30_000 });
  };
  return { subscriber, subscriptions, id, worker, caughtUp };
}

async function pullAll(h: SyncHarness): Promise<FeedChange[]> {
  const feed = new ChangeFeed(h.db.conn, { retentionMs: 7 * DAY_MS });
  const all: FeedChange[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await feed.read({ after, limit: 50 });
    if (page.changes.length === 0) return all;
    all.push(...page.changes);
    after = page.nextCursor;
  }
}

const seqOf = (c: FeedChange) => decodeCursor(c.cursor).seq;

t.test('over a random workload (edits, deletes, recurring instances, a 410, a replica killed mid-sync) the webhook and the pull feed both replay to the exact mirror', async (t) => {
  const h = await startSyncHarness(t, 'feed-workload');
  const { subscriber, caughtUp } = await subscribed(t, h);
  const random = prng(9);
  const live = h.seed(15).map((e) => e.id!);
  const tomorrow = new Date(Date.now() + DAY_MS);
  tomorrow.setUTCHours(9, 0, 0, 0);
  const series = h.emu.insertEvent(h.gcalId, {
    summary: 'standup',
    start: { dateTime: tomorrow.toISOString(), timeZone: 'UTC' },
    end: { dateTime: new Date(tomorrow.getTime() + 900_000).toISOString(), timeZone: 'UTC' },
    recurrence: ['RRULE:FREQ=DAILY;COUNT=6'],
  });
  const instances = () => h.emu.listAllEvents(h.gcalId, { singleEvents: true }).filter((e) => e.recurringEventId === series.id).map((e) => e.id!);
  h.emu.setPaging({ maxPageSize: 4 });
  let engine = h.engine();
  await engine.syncCalendar(h.calendarId);
  let next = 100;
  const pick = (ids: string[]) => ids[Math.floor(random() * ids.length)]!;

  for (let round = 0; round < 8; round++) {
    for (let i = 0; i < 4; i++) {
      const r = random();
      if (r < 0.35 && live.length > 3) h.emu.patchEvent(h.gcalId, pick(live), { summary: `edit ${round}.${i}` });
      else if (r < 0.5 && live.length > 3) {
        const id = pick(live);
        h.emu.deleteEvent(h.gcalId, id);
        live.splice(live.indexOf(id), 1);
      } else if (r < 0.7) live.push(h.emu.insertEvent(h.gcalId, eventBody(next++)).id!);
      else if (r < 0.85) h.emu.patchEvent(h.gcalId, pick(instances()), { location: `room ${round}` });
      else if (instances().length > 2) h.emu.deleteEvent(h.gcalId, pick(instances()));
    }
    if (round === 2) subscriber.down = true;
    if (round === 5) subscriber.down = false;
    if (round === 4) h.emu.invalidateSyncTokens(h.gcalId);
    if (round === 6) {
      // Replica A stalls after its first page (as if killed); replica B, whose clock is 10 minutes
      // later, finds A's lease expired and syncs; A wakes up and finds itself fenced off.
      let stalled!: () => void;
      const stall = new Promise<void>((resolve) => (stalled = resolve));
      let reached!: () => void;
      const atStall = new Promise<void>((resolve) => (reached = resolve));
      const replicaA = h.engine({ onPageStored: async ({ pageNumber }) => (pageNumber === 1 ? (reached(), stall) : undefined) });
      h.emu.invalidateSyncTokens(h.gcalId);
      const a = replicaA.syncCalendar(h.calendarId);
      await atStall;
      live.push(h.emu.insertEvent(h.gcalId, eventBody(next++)).id!);
      const replicaB = h.engine({ now: () => new Date(Date.now() + 600_000) });
      t.match((await replicaB.syncCalendar(h.calendarId)).passes, [{ status: 'ok' }], 'replica B took over');
      stalled();
      t.match((await a).passes.at(-1), { errorCode: 'lease_lost' }, 'replica A was fenced off');
      // B's clock set the calendar's pacing time: it syncs from here on.
      engine = replicaB;
      continue;
    }
    await engine.syncCalendar(h.calendarId);
  }
  await h.assertMirrorExact(t);
  await caughtUp();
  const mirror = sorted(await mirrorEtags(h.models, h.calendarId));
  const pulled = await pullAll(h);
  t.same(sorted(replayFeed(pulled)), mirror, 'replaying the pull feed from empty gives the mirror (ids, etags, deletions)');
  t.same(sorted(replayFeed(subscriber.changes)), mirror, 'replaying what the subscriber received gives the mirror');
  t.ok(subscriber.changes.every((c, i, all) => i === 0 || seqOf(c) > seqOf(all[i - 1]!)), 'delivered in feed order');
  t.ok(subscriber.attempts > subscriber.messageIds.length, 'deliveries failed while the subscriber was down and were retried');
  t.same(subscriber.rejected, [], 'every delivery verified');
  t.ok(pulled.some((c) => c.type === 'updated' && c.changed && 'location' in c.changed), 'instance edits are in the feed');
  t.ok(pulled.some((c) => c.type === 'deleted'), 'deletions are in the feed');
});

t.test('a subscriber down for 10 minutes catches up with nothing missing; after the retry window it is failing until enabled, then resumes where it stopped', async (t) => {
  const h = await startSyncHarness(t, 'feed-down');
  // The workers' clock runs with real time, shifted forward when the test skips ahead.
  let skipped = 0;
  const { subscriber, subscriptions, id, worker, caughtUp } = await subscribed(t, h, { now: () => new Date(Date.now() + skipped), retryForMs: 30 * 60_000 });
  const engine = h.engine();
  h.seed(6);
  await engine.syncCalendar(h.calendarId);
  await caughtUp();
  t.equal(subscriber.changes.length, 6);

  subscriber.down = true;
  h.seed(5, 50);
  await engine.syncCalendar(h.calendarId);
  await waitFor(() => subscriber.attempts >= 8, { what: 'retries' });
  skipped += 10 * 60_000;
  const [during] = await subscriptions.list();
  t.match(during, { state: 'active', lastError: { status: 503 } }, 'still retrying after 10 minutes');
  subscriber.down = false;
  await caughtUp();
  t.equal(subscriber.changes.length, 11, 'caught up with nothing missing');

  subscriber.down = true;
  h.seed(3, 80);
  await engine.syncCalendar(h.calendarId);
  await waitFor(() => subscriber.attempts >= subscriber.messageIds.length + 12, { what: 'retries' });
  skipped += 40 * 60_000;
  await waitFor(async () => (await subscriptions.list())[0]?.state === 'failing', { what: 'the subscription to be marked failing' });
  t.same(await subscriptions.counts(), { active: 0, failing: 1 });
  const attempts = subscriber.attempts;
  subscriber.down = false;
  worker.wake();
  skipped += 60 * 60_000;
  await new Promise((r) => setTimeout(r, 200));
  t.equal(subscriber.attempts, attempts, 'a failing subscription is not tried again');
  t.ok(await subscriptions.enable(id));
  await caughtUp();
  t.equal(subscriber.changes.length, 14, 'resumed from where it stopped');
  t.same(sorted(replayFeed(subscriber.changes)), sorted(await mirrorEtags(h.models, h.calendarId)));
});

t.test('a subscription gets only its calendars and types', async (t) => {
  const h = await startSyncHarness(t, 'feed-filter');
  const other = await h.models.Calendar.create({ accountId: h.calendarId, googleCalendarId: 'other' });
  const { subscriber, caughtUp } = await subscribed(t, h, {}, { calendarIds: [String(other._id)] });
  h.seed(3);
  await h.engine().syncCalendar(h.calendarId);
  await caughtUp();
  t.same(subscriber.changes, [], 'changes of other calendars are stepped over');
});

t.test('a forged, tampered or replayed delivery fails verification at the subscriber', async (t) => {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const msg = { secret, messageId: 'msg_1', calendarId: 'c', changes: [] as FeedChange[] };
  const good = signedRequest({ ...msg, now: new Date() });
  t.ok(new Webhook(secret).verify(good.body, good.headers), 'a genuine delivery verifies');
  const forged = signedRequest({ ...msg, secret: `whsec_${randomBytes(24).toString('base64')}`, now: new Date() });
  t.throws(() => new Webhook(secret).verify(forged.body, forged.headers), /signature/i, 'signed with another secret');
  t.throws(() => new Webhook(secret).verify(good.body.replace('"c"', '"d"'), good.headers), /signature/i, 'body changed after signing');
  const old = signedRequest({ ...msg, now: new Date(Date.now() - 10 * 60_000) });
  t.throws(() => new Webhook(secret).verify(old.body, old.headers), /timestamp/i, 'a captured delivery replayed 10 minutes later');
});
