import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import type { Connection } from 'mongoose';
import { buildApp } from '../../src/app.js';
import type { Config } from '../../src/config/env.js';
import { connectDatabase } from '../../src/db/connect.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { registerModels, type Models } from '../../src/models/index.js';
import { freePort } from '../../scripts/lib/child-server.js';
import { RoundRobin } from '../../scripts/lib/round-robin.js';
import { testConfig, testEnv } from './config.js';
import { testDbUri } from './db.js';

export { RoundRobin };

type TestLike = Pick<Test, 'teardown'>;

export const FLEET_ADMIN_TOKEN = 'fleet-admin-token-0123456789abcdefghijkl';
export const FLEET_AUTH = { authorization: `Bearer ${FLEET_ADMIN_TOKEN}`, 'content-type': 'application/json' };
const REFRESH_TOKEN = 'rt-fleet-0123456789';

export interface Fleet {
  emu: Emulator;
  dbUri: string;
  conn: Connection;
  models: Models;
  lb: RoundRobin;
  /** The load balancer's URL: PUBLIC_BASE_URL of every replica. */
  url: string;
  /** The environment every replica runs with. */
  env: Record<string, string>;
  config: Config;
  /** In-process replicas (buildApp on their own connections), listening behind the balancer. */
  apps: FastifyInstance[];
  /** Adds an in-process replica and puts it behind the balancer. */
  addApp(): Promise<FastifyInstance>;
  /** Starts `npm start`'s entry as a child process and puts it behind the balancer (`env` overrides the fleet's). */
  spawnReplica(env?: Record<string, string>): Promise<Replica>;
  accountId(): Promise<string>;
  /** Registers a Google calendar through the admin API (via the balancer). */
  register(googleCalendarId: string): Promise<string>;
  /** Every calendar's mirror equals the emulator (ids and etags). */
  mirrorsExact(): Promise<boolean>;
  /**
   * What a failing fleet test needs to say why: each calendar's mirror against Google, its sync state
   * and channels, the emulator's ping deliveries, and the replicas' warnings and errors.
   */
  diagnose(replicas?: Replica[]): Promise<string>;
}

export interface Replica {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr(): string;
  /** The replica's log lines (stdout, pino JSON), the last 256 KiB: for a failing test's diagnostics. */
  logs(): string;
}

const serverEntry = fileURLToPath(new URL('../../src/server.ts', import.meta.url));

export async function startFleet(t: TestLike, opts: { name: string; apps?: number; env?: Record<string, string> }): Promise<Fleet> {
  const emu = await startEmulator();
  t.teardown(() => emu.close());
  emu.addAccount(REFRESH_TOKEN);
  const lb = new RoundRobin();
  const url = await lb.listen();
  t.teardown(() => lb.close());
  const dbUri = testDbUri(opts.name);
  const env = testEnv({
    MONGODB_URI: dbUri,
    GOOGLE_API_ROOT_URL: emu.url,
    GOOGLE_OAUTH_TOKEN_URL: emu.tokenUrl,
    PUBLIC_BASE_URL: url,
    ADMIN_TOKEN: FLEET_ADMIN_TOKEN,
    SYNC_BACKOFF_BASE_MS: '1',
    SYNC_BACKOFF_MAX_MS: '5',
    SYNC_POLL_MS: '100',
    ...opts.env,
  });
  const config = testConfig(env);
  const conn = await connectDatabase(dbUri);
  t.teardown(async () => {
    await conn.dropDatabase().catch(() => undefined);
    await conn.close();
  });
  const models = registerModels(conn);
  await Promise.all([models.Calendar.init(), models.Event.init()]);

  const apps: FastifyInstance[] = [];
  const children: ChildProcess[] = [];
  t.teardown(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  let accountId: string | null = null;

  const fleet: Fleet = {
    emu,
    dbUri,
    conn,
    models,
    lb,
    url,
    env,
    config,
    apps,
    async addApp() {
      const replicaConn = await connectDatabase(dbUri);
      const app = await buildApp({ config, conn: replicaConn, logger: false, overrides: { engine: { owner: `app-${apps.length}`, pollMs: 100 } } });
      t.teardown(async () => {
        await app.close();
        await replicaConn.close();
      });
      const port = await freePort();
      await app.listen({ port, host: '127.0.0.1' });
      apps.push(app);
      lb.backends.push(`http://127.0.0.1:${port}`);
      return app;
    },
    async spawnReplica(overrides = {}) {
      const port = await freePort();
      const child = spawn(process.execPath, ['--import', 'tsx', serverEntry], {
        env: { PATH: process.env.PATH ?? '', ...env, ...overrides, PORT: String(port), HOST: '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let stderr = '';
      let logs = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout?.on('data', (d: Buffer) => (logs = (logs + d.toString()).slice(-256 * 1024)));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const replicaUrl = `http://127.0.0.1:${port}`;
      // Booting tsx and the server takes seconds on an idle machine, far longer on a loaded one.
      const deadline = Date.now() + 120_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`replica exited at start: ${stderr}`);
        const ok = await fetch(`${replicaUrl}/readyz`).then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`replica did not become ready: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      lb.backends.push(replicaUrl);
      return { url: replicaUrl, child, exited, stderr: () => stderr, logs: () => logs };
    },
    async accountId() {
      if (!accountId) {
        const res = await fetch(`${url}/admin/accounts`, { method: 'POST', headers: FLEET_AUTH, body: JSON.stringify({ refreshToken: REFRESH_TOKEN }) });
        if (res.status !== 201) throw new Error(`account registration failed: ${await res.text()}`);
        accountId = ((await res.json()) as { id: string }).id;
      }
      return accountId;
    },
    async register(googleCalendarId) {
      emu.createCalendar(googleCalendarId);
      const res = await fetch(`${url}/admin/calendars`, {
        method: 'POST',
        headers: FLEET_AUTH,
        body: JSON.stringify({ accountId: await fleet.accountId(), googleCalendarId }),
      });
      if (res.status !== 201) throw new Error(`calendar registration failed: ${await res.text()}`);
      return ((await res.json()) as { id: string }).id;
    },
    async mirrorsExact() {
      const calendars = await models.Calendar.find({}, { googleCalendarId: 1 }).lean();
      for (const c of calendars) {
        const google = emu
          .listAllEvents(c.googleCalendarId, { singleEvents: config.sync.singleEvents })
          .map((e) => `${e.id}@${e.etag}`)
          .sort();
        const mirror = (await models.Event.find({ calendarId: c._id }, { googleEventId: 1, etag: 1 }).lean()).map((e) => `${e.googleEventId}@${e.etag}`).sort();
        if (JSON.stringify(google) !== JSON.stringify(mirror)) return false;
      }
      return true;
    },
    async diagnose(replicas = []) {
      const lines: string[] = [`pings ${JSON.stringify(emu.pingStats())}`];
      const calendars = await models.Calendar.find({}).lean();
      const channels = await conn.collection('channels').find({}, { projection: { calendarId: 1, status: 1, lastMessageNumber: 1 } }).toArray();
      for (const c of calendars) {
        const google = emu.listAllEvents(c.googleCalendarId, { singleEvents: config.sync.singleEvents }).length;
        const mirror = await models.Event.countDocuments({ calendarId: c._id });
        const chans = channels.filter((ch) => String(ch.calendarId) === String(c._id)).map((ch) => `${String(ch.status)}#${String(ch.lastMessageNumber)}`);
        const { state, priority, dueAt, syncNotBefore, syncHeldBy, syncEpoch, requests, lastSyncedAt } = c;
        lines.push(`${c.googleCalendarId}: google ${google} mirror ${mirror} channels [${chans.join(' ')}] ${JSON.stringify({ state, priority, dueAt, syncNotBefore, syncHeldBy, syncEpoch, requests, lastSyncedAt })}`);
      }
      for (const r of replicas) {
        const worrying = r
          .logs()
          .split('\n')
          .filter((l) => /"level":(4|5|6)\d/.test(l))
          .slice(-20);
        lines.push(`replica ${r.url} exit ${String(r.child.exitCode ?? r.child.signalCode)}: ${worrying.length} warnings/errors (last 20)`, ...worrying, r.stderr().slice(-2000));
      }
      return lines.join('\n');
    },
  };
  for (let i = 0; i < (opts.apps ?? 0); i++) await fleet.addApp();
  return fleet;
}
