/**
 * Truncated exponential backoff with full jitter (the AWS / Google recommendation), honouring
 * `Retry-After`. Hand-written on purpose: the `exponential-backoff` package has no per-error
 * delay (so it cannot honour `Retry-After`) and no injectable sleep or randomness, which the tests
 * need to run in milliseconds and assert the exact waits.
 */

export interface BackoffPolicy {
  /** Retries after the first attempt; 0 means one attempt only. */
  maxRetries: number;
  baseMs: number;
  /** Cap on any single wait, including one asked for by `Retry-After`. */
  maxMs: number;
}

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Wait before retry number `retry` (0-based): uniform in [0, min(max, base·2^retry)], but never
 * shorter than `Retry-After` (itself capped at `maxMs`).
 */
export function backoffDelay(retry: number, policy: BackoffPolicy, random: () => number, retryAfterMs?: number | null): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(retry, 30));
  const jittered = Math.floor(random() * ceiling);
  const floor = retryAfterMs ? Math.min(retryAfterMs, policy.maxMs) : 0;
  return Math.max(jittered, floor);
}

export interface RetryDecision {
  retry: boolean;
  retryAfterMs?: number | null;
}

export interface RetryOptions {
  policy: BackoffPolicy;
  shouldRetry: (err: unknown) => RetryDecision;
  sleep?: Sleep;
  random?: () => number;
  signal?: AbortSignal;
  onRetry?: (info: { err: unknown; retry: number; delayMs: number }) => void;
}

/** Runs `fn` until it succeeds, `shouldRetry` says no, or the retries are spent; then rethrows the last error. */
export async function withRetries<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const sleep = opts.sleep ?? realSleep;
  const random = opts.random ?? Math.random;
  for (let retry = 0; ; retry++) {
    try {
      return await fn();
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const decision = opts.shouldRetry(err);
      if (!decision.retry || retry >= opts.policy.maxRetries) throw err;
      const delayMs = backoffDelay(retry, opts.policy, random, decision.retryAfterMs);
      opts.onRetry?.({ err, retry: retry + 1, delayMs });
      await sleep(delayMs, opts.signal);
    }
  }
}
