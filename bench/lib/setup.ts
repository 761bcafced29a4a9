// Shared wiring for the benchmarks: configuration, per-scenario databases, API clients, calendar
// rows, event bodies, and the whole server listening on loopback (as `npm run dev` wires it).
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { calendar_v3 } from 'googleapis';
import { Types, type Connection } from 'mongoose';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/env.js';
import { freePort } from '../../scripts/lib/child-server.js';
import { connectDatabase } from '../../src/db/connect.js';
import type { Emulator } from '../../src/emulator/index.js';
import { createCalendarClient } from '../../src/google/calendar-client.js';
import { registerModels, type Models } from '../../src/models/index.js';
import type { ServiceOverrides } from '../../src/services.js';
import { realSleep, type Sleep } from '../../src/sync/backoff.js';
import { adminClient as sharedAdminClient, type AdminCall } from '../../scripts/lib/admin-client.js';

export const REFRESH_TOKEN = 'bench-refresh-token';
export const ADMIN_TOKEN = `bench-admin-${randomBytes(16).toString('hex')}`;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** A valid configuration against the emulator: production defaults except what the bench must set. */
export function benchConfig(emu: Emulator, env: Record<string, string>): Config {
  return loadConfig({
    PUBLIC_BASE_URL: 'http://127.0.0.1:1',
    GOOGLE_API_ROOT_URL: emu.url,
    GOOGLE_OAUTH_TOKEN_URL: emu.tokenUrl,
    ADMIN_TOKEN,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    GOOGLE_CLIENT_ID: 'calsync-bench',
    GOOGLE_CLIENT_SECRET: 'calsync-bench-secret',
    CRON_ENABLED: 'false',
    LOG_LEVEL: 'silent',
    ...env,
  });
}

/**
 * The production default of SYNC_MIN_INTERVAL_MS, read from the configuration schema rather than
 * hard-coded, so the "default pacing" runs follow the default if it ever changes. The benches pass
 * it explicitly (SYNC_MIN_INTERVAL_MS=<this>) so every run says which pacing it used.
 */
export function defaultMinIntervalMs(): number {
  return defaultConfig().sync.minIntervalMs;
}

/** The production defaults (the configuration schema's, never restated here). */
export function defaultConfig(): Config {
  return loadConfig({
    MONGODB_URI: 'mongodb://127.0.0.1:1/unused',
    PUBLIC_BASE_URL: 'https://calsync.invalid',
    ADMIN_TOKEN,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    CRON_ENABLED: 'false',
    LOG_LEVEL: 'silent',
  });
}

/** Every sleep the engine asks for (pacing waits; retry backoff sleeps through the same seam). */
export interface SleepRecorder {
  sleep: Sleep;
  waits: number[];
  reset(): void;
}

/** Wraps the real sleep unchanged and records each wait (observation only). */
export function recordingSleep(): SleepRecorder {
  const rec: SleepRecorder = {
    waits: [],
    sleep: (ms, signal) => {
      rec.waits.push(ms);
      return realSleep(ms, signal);
    },
    reset() {
      rec.waits.length = 0;
    },
  };
  return rec;
}

/**
 * Sync passes of one calendar recorded in `sync_runs` since `since` (the observer writes them off
 * the sync path, so this waits up to 5 s for `expected` rows): how many, and how many changed nothing.
 */
export async function passRecords(stack: ServerStack, calendarId: string, since: Date, expected: number): Promise<{ recorded: number; empty: number }> {
  const { SyncRun } = stack.app.services;
  const filter = { calendarId: new Types.ObjectId(calendarId), finishedAt: { $gte: since } };
  await waitFor(async () => (await SyncRun.countDocuments(filter)) >= expected, 5_000, 50);
  const [recorded, empty] = await Promise.all([SyncRun.countDocuments(filter), SyncRun.countDocuments({ ...filter, eventsChanged: 0 })]);
  return { recorded, empty };
}

export const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The server's URI with the database name replaced (each scenario gets its own, dropped at the end). */
export function dbUriFor(baseUri: string, name: string): string {
  const m = /^(mongodb(?:\+srv)?:\/\/[^/?]+)(?:\/[^?]*)?(\?.*)?$/.exec(baseUri);
  if (!m) throw new Error(`not a mongodb:// URI: ${baseUri}`);
  return `${m[1]}/bench_${name}_${randomBytes(3).toString('hex')}${m[2] ?? ''}`;
}

export interface BenchDb {
  uri: string;
  conn: Connection;
  models: Models;
  /** Drops the database and closes the connection. */
  drop(): Promise<void>;
}

export async function openBenchDb(baseUri: string, name: string): Promise<BenchDb> {
  const uri = dbUriFor(baseUri, name);
  const conn = await connectDatabase(uri);
  const models = registerModels(conn);
  await Promise.all([models.Calendar.init(), models.Event.init()]);
  return {
    uri,
    conn,
    models,
    async drop() {
      await conn.dropDatabase().catch(() => undefined);
      await conn.close();
    },
  };
}

/** A Calendar row as the registry would create it (idle, no token); the account id is not looked up by bench engines. */
export async function createCalendarRow(models: Models, googleCalendarId: string): Promise<string> {
  const doc = await models.Calendar.create({ accountId: new Types.ObjectId(), googleCalendarId });
  return String(doc._id);
}

/** A googleapis client against the emulator, built the way calsync builds it (no googleapis retries). */
export function benchClient(emu: Emulator, refreshToken = REFRESH_TOKEN): calendar_v3.Calendar {
  return createCalendarClient({
    apiRootUrl: emu.url,
    oauthTokenUrl: emu.tokenUrl,
    clientId: 'calsync-bench',
    clientSecret: 'calsync-bench-secret',
    refreshToken,
  });
}

/** Event i: a one-hour meeting spread over the next 60 days (inside the default −30 d … +90 d window). */
export function eventBody(i: number, summary = `bench event ${i}`): Partial<calendar_v3.Schema$Event> {
  const start = new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS + DAY_MS + (i % 60) * DAY_MS + (i % 24) * HOUR_MS);
  return {
    summary,
    description: `Benchmark event number ${i}, with a description of typical length for a meeting invite.`,
    location: 'Room 4.2',
    start: { dateTime: start.toISOString() },
    end: { dateTime: new Date(start.getTime() + HOUR_MS).toISOString() },
  };
}

/** Inserts n events in batches (one ping per batch, as the emulator's bulk insert does). */
export function seedEvents(emu: Emulator, calendarId: string, n: number, from = 0): calendar_v3.Schema$Event[] {
  const out: calendar_v3.Schema$Event[] = [];
  for (let i = 0; i < n; i += 1000) {
    const size = Math.min(1000, n - i);
    out.push(...emu.insertEvents(calendarId, Array.from({ length: size }, (_, j) => eventBody(from + i + j))));
  }
  return out;
}


/** Calls the admin API of a server (or a balancer) with the bench's admin token; a non-2xx answer throws. */
export function adminClient(baseUrl: string): AdminCall {
  return sharedAdminClient(baseUrl, ADMIN_TOKEN);
}

export interface ServerStack {
  app: FastifyInstance;
  baseUrl: string;
  db: BenchDb;
  /** Calls the admin API with the bench's admin token; throws on a non-2xx answer. */
  admin(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  /** Registers an account (once) and a calendar through the admin API; returns calsync's calendar id. */
  register(googleCalendarId: string): Promise<string>;
  close(): Promise<void>;
}

/** The whole server, as `npm run dev` runs it: real HTTP on 127.0.0.1, pings from the emulator reach the webhook. */
export async function startServerStack(opts: {
  dbBaseUri: string;
  emu: Emulator;
  name: string;
  env?: Record<string, string>;
  /** buildApp's service seams; the benches only observe through them (e.g. onPageStored). */
  overrides?: ServiceOverrides;
}): Promise<ServerStack> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const db = await openBenchDb(opts.dbBaseUri, opts.name);
  const config = benchConfig(opts.emu, {
    MONGODB_URI: db.uri,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: baseUrl,
    ...opts.env,
  });
  const conn = await connectDatabase(config.mongodbUri);
  const app = await buildApp({ config, conn, logger: false, overrides: opts.overrides });
  await app.listen({ port: config.port, host: config.host });

  const admin = adminClient(baseUrl);
  let accountId: string | null = null;
  opts.emu.addAccount(REFRESH_TOKEN);
  return {
    app,
    baseUrl,
    db,
    admin,
    async register(googleCalendarId) {
      accountId ??= String((await admin('POST', '/admin/accounts', { refreshToken: REFRESH_TOKEN, label: 'bench' })).id);
      const cal = await admin('POST', '/admin/calendars', { accountId, googleCalendarId });
      return String(cal.id);
    },
    async close() {
      await app.close();
      await conn.close();
      await db.drop();
    },
  };
}

/** Whether calsync's mirror of a calendar equals the emulator's live state (same ids, same etags). */
export async function mirrorMatches(models: Models, calendarId: string, emu: Emulator, googleCalendarId: string): Promise<boolean> {
  const google = new Map(emu.listAllEvents(googleCalendarId, { singleEvents: true }).map((e) => [e.id, e.etag]));
  const mirror = await models.Event.find({ calendarId: new Types.ObjectId(calendarId) }, { googleEventId: 1, etag: 1 }).lean();
  return mirror.length === google.size && mirror.every((e) => google.get(e.googleEventId) === e.etag);
}

/** Runs `fn` over `items` with at most `limit` at once. */
export async function mapPool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Polls `check` until it is true; false after the timeout. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
}
