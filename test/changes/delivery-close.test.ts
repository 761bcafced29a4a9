import t from 'tap';
import { randomBytes } from 'node:crypto';
import { KeyRing } from '../../src/crypto/key-ring.js';
import type { SubscriptionModel } from '../../src/subscriptions/subscription-model.js';
import { DeliveryWorker } from '../../src/subscriptions/delivery-worker.js';
import { SubscriptionService } from '../../src/subscriptions/subscription-service.js';
import { startSyncHarness } from '../helpers/sync-harness.js';

t.test('a replica closing while a delivery claim is on the way lets the subscription go without delivering', async (t) => {
  const h = await startSyncHarness(t, 'delivery-close');
  const db = h.db;
  const subscriptions = new SubscriptionService(db.conn, { keys: new KeyRing([randomBytes(32)]), policy: { allowLoopback: true } });
  const { id } = await subscriptions.create({ url: 'http://127.0.0.1:9/hook' });
  // Changes after the subscription: a delivery has something to send.
  h.seed(3);
  await h.engine().syncCalendar(h.calendarId);

  // The claim's write (findOneAndUpdate) waits until the test lets it through.
  let letThrough!: () => void;
  let reached!: () => void;
  const through = new Promise<void>((resolve) => (letThrough = resolve));
  const claiming = new Promise<void>((resolve) => (reached = resolve));
  const Subscription = new Proxy(subscriptions.Subscription, {
    get(target, key, receiver) {
      if (key !== 'findOneAndUpdate') return Reflect.get(target, key, receiver) as unknown;
      return (...args: Parameters<SubscriptionModel['findOneAndUpdate']>) => {
        reached();
        return { lean: async () => (await through, target.findOneAndUpdate(...args).lean()) };
      };
    },
  });
  let attempts = 0;
  const worker = new DeliveryWorker({
    conn: db.conn,
    subscriptions: new Proxy(subscriptions, { get: (target, key, receiver) => (key === 'Subscription' ? Subscription : Reflect.get(target, key, receiver)) as unknown }),
    policy: { allowLoopback: true },
    batchSize: 4,
    concurrency: 1,
    timeoutMs: 2000,
    retryForMs: 3_600_000,
    backoffMaxMs: 40,
    pollMs: 60_000,
    deliver: async () => {
      attempts++;
      return { ok: true, status: 200 };
    },
  });
  worker.start();
  await claiming;

  let atClose: Record<string, unknown> | null = null;
  const closed = worker.close().then(async () => {
    atClose = await subscriptions.Subscription.findById(id, { deliverHeldBy: 1, deliverEpoch: 1 }).lean();
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  letThrough();
  await closed;
  t.match(atClose, { deliverEpoch: 1, deliverHeldBy: null }, 'the claim landed and was let go before close returned');
  t.equal(attempts, 0, 'nothing was delivered by a replica on its way out');
});
