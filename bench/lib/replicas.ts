// Replicas as child processes (`node --import tsx src/server.ts`, what `npm start` runs), so each
// one's memory is its own, behind the round-robin balancer the fleet tests use.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../scripts/lib/child-server.js';
import { RoundRobin } from '../../scripts/lib/round-robin.js';
import type { Emulator } from '../../src/emulator/index.js';
import { ADMIN_TOKEN, adminClient, REFRESH_TOKEN } from './setup.js';

const serverEntry = fileURLToPath(new URL('../../src/server.ts', import.meta.url));

/** One pino line the bench reads back (the cron's "cron job finished" records). */
export interface LogLine {
  msg?: string;
  job?: string;
  ms?: number;
  time?: number;
  result?: unknown;
}

export interface ChildReplica {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Parsed JSON log lines written so far. */
  logs: LogLine[];
  /** VmRSS and VmHWM (peak) of the process, in MiB, from /proc/<pid>/status. */
  memory(): Promise<{ rssMiB: number; hwmMiB: number }>;
  stop(): Promise<void>;
}

export interface ReplicaFleet {
  lb: RoundRobin;
  /** The balancer's URL: every replica's PUBLIC_BASE_URL, so Google's pings go through it. */
  url: string;
  env: Record<string, string>;
  replicas: ChildReplica[];
  spawn(): Promise<ChildReplica>;
  /** Calls the admin API through the balancer; throws on a non-2xx answer. */
  admin(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  /** Registers the bench's account (once) through the admin API. */
  accountId(): Promise<string>;
  close(): Promise<void>;
}

async function procStatusMiB(pid: number): Promise<{ rssMiB: number; hwmMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
}

export async function startReplicaFleet(opts: { emu: Emulator; dbUri: string; env?: Record<string, string> }): Promise<ReplicaFleet> {
  const lb = new RoundRobin();
  const url = await lb.listen();
  opts.emu.addAccount(REFRESH_TOKEN);
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    MONGODB_URI: opts.dbUri,
    PUBLIC_BASE_URL: url,
    GOOGLE_API_ROOT_URL: opts.emu.url,
    GOOGLE_OAUTH_TOKEN_URL: opts.emu.tokenUrl,
    ADMIN_TOKEN,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    GOOGLE_CLIENT_ID: 'calsync-bench',
    GOOGLE_CLIENT_SECRET: 'calsync-bench-secret',
    CRON_ENABLED: 'false',
    LOG_LEVEL: 'info',
    // Nothing routes to a replica the bench stops: it need not wait for a balancer to notice.
    SHUTDOWN_DRAIN_SECONDS: '0',
    ...opts.env,
  };
  const replicas: ChildReplica[] = [];
  let accountId: string | null = null;

  const admin = adminClient(url);

  const fleet: ReplicaFleet = {
    lb,
    url,
    env,
    replicas,
    admin,
    async spawn() {
      const port = await freePort();
      const child = spawn(process.execPath, ['--import', 'tsx', serverEntry], {
        env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), HOST: '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const logs: LogLine[] = [];
      let partial = '';
      let stderr = '';
      child.stdout?.on('data', (d: Buffer) => {
        const lines = (partial + d.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          // Only the lines the bench reads back are kept (sync logs would grow without bound).
          if (!line.includes('"cron job')) continue;
          try {
            logs.push(JSON.parse(line) as LogLine);
          } catch {
            /* not a log record */
          }
        }
      });
      child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const replicaUrl = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`replica exited at start: ${stderr}`);
        if (await fetch(`${replicaUrl}/readyz`).then((r) => r.ok, () => false)) break;
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new Error(`replica did not become ready: ${stderr}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      lb.backends.push(replicaUrl);
      const replica: ChildReplica = {
        url: replicaUrl,
        pid: child.pid!,
        child,
        logs,
        memory: () => procStatusMiB(child.pid!),
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        },
      };
      replicas.push(replica);
      return replica;
    },
    async accountId() {
      accountId ??= String((await admin('POST', '/admin/accounts', { refreshToken: REFRESH_TOKEN, label: 'bench' })).id);
      return accountId;
    },
    async close() {
      await Promise.all(replicas.map((r) => r.stop()));
      await lb.close();
    },
  };
  return fleet;
}
