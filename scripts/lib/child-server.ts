// Helpers shared by the database servers the project runs as child processes:
// a free loopback port, waiting until it accepts connections, stopping without orphans,
// scratch data dirs that are swept when their owner died, and an install lock.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, open, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { cacheDir } from './paths.js';

export type Log = (msg: string) => void;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('could not allocate a free port'));
      });
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface ServerProcess {
  child: ChildProcess;
  stop(): Promise<void>;
  /** The last few KB the server printed (its warnings), for a failed run's report. */
  output(): string;
  /** Kills the server at once, without waiting: for a process's `exit` handler. */
  kill(): void;
}

export interface SpawnServerOptions {
  name: string;
  command: string;
  args: string[];
  port: number;
  log: Log;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

/**
 * Spawns a server and resolves once its port accepts TCP connections.
 * stdin stays an open pipe: the servers are launched so that they exit when it closes
 * or when this process dies, so a killed test run leaves no database behind.
 */
export async function spawnServer(opts: SpawnServerOptions): Promise<ServerProcess> {
  const child = spawn(opts.command, opts.args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    // Own process group: a Ctrl-C in the terminal reaches the test runner, which then stops the
    // database after the tests, instead of the database vanishing under running tests.
    detached: true,
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // The server must not keep the event loop of its parent alive by itself.
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void }).unref?.();
  child.unref();

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (spawnError) throw new Error(`${opts.name}: failed to start ${opts.command}: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${opts.name} exited during start-up (${child.exitCode ?? child.signalCode}):\n${output}`);
    }
    if (await canConnect(opts.port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${opts.name} did not accept connections on port ${opts.port} in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  opts.log(`${opts.name} listening on 127.0.0.1:${opts.port} (pid ${child.pid})`);
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  return { child, stop, output: () => output, kill };
}

const scratchRoot = path.join(cacheDir, 'run');

/** A scratch data dir named after this process; dirs of dead processes are removed first. */
export async function scratchDir(prefix: string): Promise<string> {
  await mkdir(scratchRoot, { recursive: true });
  for (const entry of await readdir(scratchRoot)) {
    const pid = Number(/-pid(\d+)-/.exec(entry)?.[1]);
    if (pid && !isAlive(pid)) await rm(path.join(scratchRoot, entry), { recursive: true, force: true });
  }
  return mkdtemp(path.join(scratchRoot, `${prefix}-pid${process.pid}-`));
}

/**
 * Runs fn while holding an exclusive lock file, so two runs started together (npm test and
 * npm run db) do not install into the same directory at once. A lock whose owner died is taken over.
 */
export async function withLock<T>(lockPath: string, log: Log, fn: () => Promise<T>): Promise<T> {
  await mkdir(path.dirname(lockPath), { recursive: true });
  let warned = false;
  for (;;) {
    try {
      const fh = await open(lockPath, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(await readFile(lockPath, 'utf8').catch(() => ''));
      if (owner && !isAlive(owner)) {
        await rm(lockPath, { force: true });
        continue;
      }
      if (!warned) log(`waiting for another install (lock ${lockPath}, pid ${owner || '?'})`);
      warned = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}

/** Runs a command to completion, streaming its output to log; rejects on a non-zero exit. */
export function run(command: string, args: string[], log: Log, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    log(`$ ${command} ${args.join(' ')}`);
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} failed (${code ?? signal}):\n${output}`));
    });
  });
}
