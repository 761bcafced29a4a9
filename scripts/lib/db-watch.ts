// Watches a database server from outside, so a test run that fails because the database (or the
// machine under it) stopped answering says so, with when and for how long, instead of a list of
// 60 s timeouts.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import mongoose from 'mongoose';

export interface Stall {
  /** When the probe that stalled was sent, and when its answer came (or the watch ended). */
  from: Date;
  to: Date;
  ms: number;
  /** A probe that never came back before the watch ended. */
  unanswered: boolean;
  /** What `sample` reported while the probe was overdue (test files running then, say). */
  during: string[];
}

export interface DbWatch {
  /** Ends the watch; resolves with every probe slower than `slowMs`. */
  stop(): Promise<Stall[]>;
}

export interface DbWatchOptions {
  intervalMs?: number;
  slowMs?: number;
  /** Database the probe writes to (its own, so it never touches a test's data). */
  dbName?: string;
  /** Called every `intervalMs` while a probe is overdue; what it returns is kept with the stall. */
  sample?: () => string[];
}

interface Probe {
  from: number;
  during: Set<string>;
  /** Already reported by `stop` as unanswered. */
  reported?: boolean;
}

/**
 * Every `intervalMs`, one write (an upsert by _id, the cheapest write there is) to a database of its
 * own. A write, not a ping: a server can answer pings while its storage is stuck.
 */
export async function watchDatabase(uri: string, opts: DbWatchOptions = {}): Promise<DbWatch> {
  const intervalMs = opts.intervalMs ?? 1_000;
  const slowMs = opts.slowMs ?? 2_000;
  const conn = await mongoose
    .createConnection(uri, { dbName: opts.dbName ?? 'calsync_db_watch', serverSelectionTimeoutMS: 10_000, maxPoolSize: 1 })
    .asPromise();
  const probes = conn.collection('probes');
  const stalls: Stall[] = [];
  let stopped = false;
  let inFlight: Probe | null = null;
  const sampler = setInterval(() => {
    if (inFlight && Date.now() - inFlight.from > slowMs) for (const item of opts.sample?.() ?? []) inFlight.during.add(item);
  }, intervalMs).unref();
  const stall = (probe: Probe, unanswered: boolean): Stall => ({
    from: new Date(probe.from),
    to: new Date(),
    ms: Date.now() - probe.from,
    unanswered,
    during: [...probe.during],
  });

  const loop = (async () => {
    while (!stopped) {
      const probe: Probe = { from: Date.now(), during: new Set<string>() };
      inFlight = probe;
      try {
        await probes.updateOne({ _id: 'probe' as never }, { $inc: { n: 1 } }, { upsert: true });
      } catch {
        // An error is an answer: stalls are what this watch is for; errors show in the tests.
      }
      inFlight = null;
      if (!probe.reported && Date.now() - probe.from > slowMs) stalls.push(stall(probe, false));
      await new Promise((r) => setTimeout(r, intervalMs).unref());
    }
  })();

  return {
    async stop() {
      stopped = true;
      clearInterval(sampler);
      const pending = inFlight as Probe | null;
      if (pending && Date.now() - pending.from > slowMs) {
        pending.reported = true;
        stalls.push(stall(pending, true));
      } else {
        await loop;
      }
      // Closing ends the driver's sessions on the server, which a stalled server never answers.
      const closed = conn.close(true).catch(() => undefined);
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1_000).unref())]);
      return stalls;
    },
  };
}

/** One line per stall, for the end of a test run's output. */
export function describeStalls(stalls: Stall[]): string[] {
  return stalls.map((s) => {
    const span = `${s.from.toISOString().slice(11, 19)}–${s.to.toISOString().slice(11, 19)} UTC`;
    const unanswered = s.unanswered ? ', still unanswered when the tests ended' : '';
    return `a write to the test database took ${(s.ms / 1000).toFixed(1)} s (${span})${unanswered}; running meanwhile: ${s.during.join(', ') || 'no test file seen'}`;
  });
}

/** Test files (`*.test.ts` in a process's arguments) running on this machine right now; Linux only. */
export function runningTestFiles(root: string): string[] {
  const found = new Set<string>();
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  for (const pid of pids) {
    try {
      for (const arg of readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')) {
        if (arg.endsWith('.test.ts') && arg.startsWith(root)) found.add(path.relative(root, arg));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return [...found].sort();
}
