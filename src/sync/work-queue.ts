import type { SyncRequest } from './types.js';

/**
 * In-process queue in front of the engine: bounded concurrency, and a calendar that is already
 * waiting here is not queued twice (its requests merge; 'full' wins), and a calendar that is
 * running here waits until its run ends (which usually covers it). Cross-process coalescing is
 * the lease's job; this only keeps one process from stampeding the database and Google.
 */
export class WorkQueue {
  private readonly waiting = new Map<string, SyncRequest>();
  private readonly active = new Set<string>();
  private running = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly worker: (calendarId: string, request: SyncRequest) => Promise<void>,
  ) {}

  push(calendarId: string, request: SyncRequest): void {
    const queued = this.waiting.get(calendarId);
    if (queued) {
      if (request.mode === 'full') queued.mode = 'full';
      else if (request.mode && !queued.mode) queued.mode = request.mode;
      return;
    }
    this.waiting.set(calendarId, { ...request });
    this.pump();
  }

  get size(): number {
    return this.waiting.size + this.running;
  }

  /** Resolves when nothing is waiting or running. */
  onIdle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  clear(): void {
    this.waiting.clear();
    this.settle();
  }

  private pump(): void {
    while (this.running < this.concurrency) {
      const next = [...this.waiting].find(([id]) => !this.active.has(id));
      if (!next) break;
      const [calendarId, request] = next;
      this.waiting.delete(calendarId);
      this.active.add(calendarId);
      this.running++;
      // The worker reports its own failures; a rejection here must not stop the queue.
      void this.worker(calendarId, request)
        .catch(() => undefined)
        .finally(() => {
          this.running--;
          this.active.delete(calendarId);
          this.pump();
          this.settle();
        });
    }
  }

  private settle(): void {
    if (this.size !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
