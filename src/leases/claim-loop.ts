import type { Logger } from 'pino';

/** One piece of claimed work, ready to run in this process. */
export type ClaimedWork = () => Promise<unknown>;

export interface ClaimLoopOptions {
  /** Most pieces of work running at once in this process. */
  concurrency: number;
  /** How often an idle process looks for work other replicas recorded (ms, jittered ±25 %). */
  pollMs: number;
  random: () => number;
  now: () => Date;
  log: Logger;
  /** What a failed claim is logged as ("claiming due syncs failed"). */
  claimFailedMessage: string;
  /**
   * Claims due work in MongoDB (each claim is a lease) and yields it piece by piece; the loop stops
   * pulling once `free` pieces run or the loop closes, so a claim is never made that cannot start.
   */
  claim(free: number): AsyncIterable<ClaimedWork>;
}

/**
 * The claim-and-run loop every replica runs for durable work (syncs, change-feed deliveries): claims
 * when woken (by work recorded in this process, by a timer for work due later, or by a jittered
 * poll for work recorded elsewhere), runs at most `concurrency` pieces at once, and on close stops
 * claiming and waits for what runs. The work itself, and its leases, stay with the caller: a killed
 * process loses nothing but time, since every lease runs out and is claimed again.
 */
export class ClaimLoop {
  private readonly closing = new AbortController();
  private readonly running = new Set<Promise<unknown>>();
  private started = false;
  private pumping = false;
  /** The current (or last) pump: close waits for a claim in flight. */
  private pumped: Promise<void> = Promise.resolve();
  private pumpAgain = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private wake: { at: number; timer: NodeJS.Timeout } | null = null;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly o: ClaimLoopOptions) {}

  /** Aborted when the loop closes (with the reason given to close). */
  get signal(): AbortSignal {
    return this.closing.signal;
  }

  get runningCount(): number {
    return this.running.size;
  }

  start(): void {
    if (this.started || this.closing.signal.aborted) return;
    this.started = true;
    this.schedulePoll();
    this.pump();
  }

  /** Claims until the slots are full or nothing is claimable; coalesces calls made meanwhile. */
  pump(): void {
    if (!this.started || this.closing.signal.aborted) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    this.pumped = (async () => {
      try {
        do {
          this.pumpAgain = false;
          const free = this.o.concurrency - this.running.size;
          if (free <= 0) break;
          let claimedAny = false;
          for await (const work of this.o.claim(free)) {
            this.launch(work);
            claimedAny = true;
            if (this.running.size >= this.o.concurrency || this.closing.signal.aborted) break;
          }
          // Slots may still be free and more work due: look again (stops once a look claims nothing).
          if (claimedAny) this.pumpAgain = true;
        } while (this.pumpAgain && !this.closing.signal.aborted);
      } catch (err) {
        // The database, most likely: the poll tries again.
        this.o.log.error({ err: { message: (err as Error).message } }, this.o.claimFailedMessage);
      } finally {
        this.pumping = false;
        this.settle();
      }
    })();
  }

  /** Claims now, or at `at` (pacing, back-off) when that is later. */
  wakeAt(at: Date): void {
    if (!this.started || this.closing.signal.aborted) return;
    const delay = at.getTime() - this.o.now().getTime();
    if (delay <= 0) return this.pump();
    if (this.wake && this.wake.at <= at.getTime()) return;
    if (this.wake) clearTimeout(this.wake.timer);
    const timer = setTimeout(() => {
      this.wake = null;
      this.pump();
    }, delay);
    timer.unref();
    this.wake = { at: at.getTime(), timer };
  }

  /** Counts work run outside the loop's slots (a script's own sync) as running, for close and idle. */
  track<T>(p: Promise<T>): Promise<T> {
    this.running.add(p);
    void p.finally(() => this.running.delete(p)).catch(() => undefined);
    return p;
  }

  /** Resolves when nothing runs and the last look claimed nothing (work due later has a timer). */
  onIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops claiming, aborts `signal` with `reason` and waits for the work running, including work
   * whose claim was in flight: that claim may still land (it is a lease), and its work then runs
   * with `signal` aborted, which lets the lease go. Returning earlier would let the caller close
   * the database under it and leave the lease held until it runs out.
   */
  async close(reason?: unknown): Promise<void> {
    this.closing.abort(reason);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.wake) clearTimeout(this.wake.timer);
    this.pollTimer = null;
    this.wake = null;
    while (this.pumping || this.running.size > 0) {
      await Promise.allSettled([this.pumped, ...this.running]);
    }
    this.settle();
  }

  private launch(work: ClaimedWork): void {
    void this.track(work())
      .catch(() => undefined)
      .finally(() => {
        this.pump();
        this.settle();
      });
  }

  private schedulePoll(): void {
    if (this.closing.signal.aborted) return;
    // Jittered, so replicas started together do not poll in step.
    const delay = Math.round(this.o.pollMs * (0.75 + this.o.random() / 2));
    this.pollTimer = setTimeout(() => {
      this.pump();
      this.schedulePoll();
    }, delay);
    this.pollTimer.unref();
  }

  private isIdle(): boolean {
    return this.running.size === 0 && !this.pumping;
  }

  private settle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
