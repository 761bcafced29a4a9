import http from 'node:http';
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
import { testConfig, testEnv } from './config.js';
import { testDbUri } from './db.js';

type TestLike = Pick<Test, 'teardown'>;

export const FLEET_ADMIN_TOKEN = 'fleet-admin-token-0123456789abcdefghijkl';
export const FLEET_AUTH = { authorization: `Bearer ${FLEET_ADMIN_TOKEN}`, 'content-type': 'application/json' };
const REFRESH_TOKEN = 'rt-fleet-0123456789';

/**
 * A load balancer in front of the replicas, as in production: each request goes to the next
 * backend in turn, and to the one after it when a backend does not answer (a replica that was
 * stopped), so Google's pings are spread over whichever replicas are up.
 */
export class RoundRobin {
  private next = 0;
  readonly server: http.Server;
  backends: string[] = [];
  /** Requests answered by each backend, by its URL. */
  readonly served = new Map<string, number>();

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.forward(req, Buffer.concat(chunks), res, 0));
    });
  }

  async listen(): Promise<string> {
    const port = await freePort();
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async forward(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, tried: number): Promise<void> {
    if (tried >= this.backends.length) {
      res.writeHead(502).end();
      return;
    }
    const backend = this.backends[this.next++ % this.backends.length]!;
    const target = new URL(req.url ?? '/', backend);
    const out = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (upstream) => {
      this.served.set(backend, (this.served.get(backend) ?? 0) + 1);
      res.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(res);
    });
    out.on('error', () => void this.forward(req, body, res, tried + 1));
    out.end(body);
  }
}

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
  /** Starts `npm start`'s entry as a child process and puts it behind the balancer. */
  spawnReplica(): Promise<Replica>;
  accountId(): Promise<string>;
  /** Registers a Google calendar through the admin API (via the balancer). */
  register(googleCalendarId: string): Promise<string>;
  /** Every calendar's mirror equals the emulator (ids and etags). */
  mirrorsExact(): Promise<boolean>;
}

export interface Replica {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr(): string;
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
    async spawnReplica() {
      const port = await freePort();
      const child = spawn(process.execPath, ['--import', 'tsx', serverEntry], {
        env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), HOST: '127.0.0.1' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      children.push(child);
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const replicaUrl = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`replica exited at start: ${stderr}`);
        const ok = await fetch(`${replicaUrl}/readyz`).then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`replica did not become ready: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      lb.backends.push(replicaUrl);
      return { url: replicaUrl, child, exited, stderr: () => stderr };
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
  };
  for (let i = 0; i < (opts.apps ?? 0); i++) await fleet.addApp();
  return fleet;
}
