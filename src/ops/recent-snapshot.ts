/**
 * A value that is expensive to compute and fine to show slightly old, as long as it says how old:
 * the dashboard's fleet counts (a `$group` over every calendar and channel, O(fleet): ~3 s at
 * 10,000 calendars on the test database). Held per replica, in memory, and refreshed only by reads:
 * - younger than `maxAgeMs`: served as is;
 * - older, up to `staleLimitMs`: served at once while one refresh runs in the background;
 * - older than that, or none yet: the read waits for a fresh one.
 * So an open dashboard (it reloads every minute) is answered from memory with counts at most
 * about a reload interval old, and an idle replica does no work at all. One refresh at a time; a
 * failed background refresh keeps the old value (the next read tries again).
 */
export interface Snapshot<T> {
  value: T;
  /** When the value was computed. */
  asOf: Date;
}

export class RecentSnapshot<T> {
  private current: Snapshot<T> | null = null;
  private refreshing: Promise<Snapshot<T>> | null = null;

  constructor(
    private readonly compute: () => Promise<T>,
    private readonly opts: { maxAgeMs: number; staleLimitMs: number; now?: () => number; onBackgroundError?: (err: unknown) => void },
  ) {}

  async get(): Promise<Snapshot<T>> {
    const now = (this.opts.now ?? Date.now)();
    const age = this.current ? now - this.current.asOf.getTime() : Infinity;
    if (this.current && age <= this.opts.maxAgeMs) return this.current;
    if (this.current && age <= this.opts.staleLimitMs) {
      this.refresh().catch((err: unknown) => this.opts.onBackgroundError?.(err));
      return this.current;
    }
    return this.refresh();
  }

  private refresh(): Promise<Snapshot<T>> {
    this.refreshing ??= (async () => {
      try {
        const asOf = new Date((this.opts.now ?? Date.now)());
        const value = await this.compute();
        this.current = { value, asOf };
        return this.current;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }
}
