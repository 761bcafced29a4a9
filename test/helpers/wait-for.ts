/**
 * Resolves once `condition` holds, checking every few milliseconds; rejects after `timeoutMs`
 * with `what` in the message. For outcomes produced by another process or a started engine, where
 * there is no promise to await.
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, opts: { timeoutMs?: number; what?: string } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'a condition'}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
