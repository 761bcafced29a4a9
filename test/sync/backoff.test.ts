import t from 'tap';
import { backoffDelay, withRetries } from '../../src/sync/backoff.js';

const policy = { maxRetries: 3, baseMs: 100, maxMs: 1000 };

t.test('the delay is full-jitter exponential, truncated at the cap', async (t) => {
  const top = () => 0.999999;
  t.same([0, 1, 2, 3, 4, 10].map((r) => backoffDelay(r, policy, top)), [99, 199, 399, 799, 999, 999]);
  t.equal(backoffDelay(3, policy, () => 0), 0, 'full jitter reaches zero');
  t.equal(backoffDelay(3, policy, () => 0.5), 400);
});

t.test('Retry-After is a floor for the wait, itself capped', async (t) => {
  t.equal(backoffDelay(0, policy, () => 0, 700), 700);
  t.equal(backoffDelay(0, policy, () => 0, 60_000), 1000);
});

t.test('retries retryable failures up to maxRetries, then rethrows the last error', async (t) => {
  const waits: number[] = [];
  let calls = 0;
  const err = await withRetries(
    async () => {
      calls++;
      throw new Error(`failure ${calls}`);
    },
    { policy, shouldRetry: () => ({ retry: true }), random: () => 0.5, sleep: async (ms) => void waits.push(ms) },
  ).catch((e: Error) => e);
  t.equal(calls, 4, 'one attempt + 3 retries');
  t.same(waits, [50, 100, 200]);
  t.equal((err as Error).message, 'failure 4');
});

t.test('a non-retryable failure is thrown at once', async (t) => {
  let calls = 0;
  await t.rejects(
    withRetries(
      async () => {
        calls++;
        throw new Error('permission');
      },
      { policy, shouldRetry: () => ({ retry: false }), sleep: async () => void t.fail('must not sleep') },
    ),
  );
  t.equal(calls, 1);
});

t.test('succeeds once the failure clears', async (t) => {
  let calls = 0;
  const value = await withRetries(
    async () => {
      if (++calls < 3) throw new Error('503');
      return 'ok';
    },
    { policy, shouldRetry: () => ({ retry: true }), sleep: async () => undefined },
  );
  t.equal(value, 'ok');
  t.equal(calls, 3);
});

t.test('an aborted signal stops the retries', async (t) => {
  const ac = new AbortController();
  let calls = 0;
  await t.rejects(
    withRetries(
      async () => {
        calls++;
        ac.abort(new Error('closing'));
        throw new Error('503');
      },
      { policy, shouldRetry: () => ({ retry: true }), signal: ac.signal, sleep: async () => undefined },
    ),
  );
  t.equal(calls, 1);
});
