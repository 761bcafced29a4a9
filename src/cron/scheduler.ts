import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';

export interface CronJob {
  name: string;
  schedule: string;
  run: () => Promise<unknown>;
}

export interface CronScheduler {
  /** Stops scheduling and waits for runs in progress. */
  stop(): Promise<void>;
}

/**
 * Runs each job on its schedule in this process. Every replica runs them; the work itself is made
 * safe to overlap by claims and leases in MongoDB. A job never overlaps itself within a process,
 * and a failing run is logged, never thrown into the event loop.
 */
export function startCron(jobs: CronJob[], log: Logger): CronScheduler {
  const running = new Map<string, Promise<void>>();
  const tasks: ScheduledTask[] = jobs.map((job) =>
    cron.schedule(job.schedule, () => {
      if (running.has(job.name)) {
        log.warn({ job: job.name }, 'cron job still running; skipping this tick');
        return;
      }
      const started = Date.now();
      const run = job
        .run()
        .then((result) => log.info({ job: job.name, ms: Date.now() - started, result }, 'cron job finished'))
        .catch((err: unknown) => log.error({ job: job.name, err }, 'cron job failed'))
        .finally(() => running.delete(job.name));
      running.set(job.name, run);
    }),
  );
  return {
    async stop() {
      for (const t of tasks) await t.stop();
      await Promise.all(running.values());
    },
  };
}

export function validCronExpression(expr: string): boolean {
  return cron.validate(expr);
}
