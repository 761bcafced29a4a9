import { setTimeout as delay } from 'node:timers/promises';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';

export interface CronJob {
  name: string;
  schedule: string;
  run: () => Promise<unknown>;
}

export interface CronScheduler {
  /** Stops scheduling and waits for runs in progress (a run still waiting out its start delay is dropped). */
  stop(): Promise<void>;
}

export interface CronOptions {
  /**
   * Each run starts after a random delay below this (ms). Every replica's schedule fires at the same
   * second of the clock; spread out, their runs do not queue behind one another on the database.
   */
  startJitterMs?: number;
  random?: () => number;
}

/**
 * Runs each job on its schedule in this process. Every replica runs them; the work itself is made
 * safe to overlap by claims and leases in MongoDB. A job never overlaps itself within a process,
 * and a failing run is logged, never thrown into the event loop. The logged `ms` is the run's own
 * time, after its start delay (`delayMs`).
 */
export function startCron(jobs: CronJob[], log: Logger, opts: CronOptions = {}): CronScheduler {
  const running = new Map<string, Promise<void>>();
  const stopping = new AbortController();
  const random = opts.random ?? Math.random;
  const tasks: ScheduledTask[] = jobs.map((job) =>
    cron.schedule(job.schedule, () => {
      if (running.has(job.name)) {
        log.warn({ job: job.name }, 'cron job still running; skipping this tick');
        return;
      }
      const delayMs = Math.floor(random() * (opts.startJitterMs ?? 0));
      const run = delay(delayMs, undefined, { signal: stopping.signal })
        .then(async () => {
          const started = Date.now();
          const result = await job.run();
          log.info({ job: job.name, ms: Date.now() - started, delayMs, result }, 'cron job finished');
        })
        .catch((err: unknown) => {
          if (stopping.signal.aborted && (err as Error).name === 'AbortError') return;
          log.error({ job: job.name, err }, 'cron job failed');
        })
        .finally(() => running.delete(job.name));
      running.set(job.name, run);
    }),
  );
  return {
    async stop() {
      for (const t of tasks) await t.stop();
      stopping.abort();
      await Promise.all(running.values());
    },
  };
}

export function validCronExpression(expr: string): boolean {
  return cron.validate(expr);
}
