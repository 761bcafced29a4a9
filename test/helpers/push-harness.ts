// Test wiring for the push side (accounts, channels, webhook, admin) against the emulator: the app
// and its services come from buildApp (the production wiring), with the test's clock and clients.
import type { FastifyInstance } from 'fastify';
import type { calendar_v3 } from 'googleapis';
import type { Connection } from 'mongoose';
import type { Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { freePort } from '../../scripts/lib/child-server.js';
import type { Logger } from 'pino';
import { createCalendarClients, googleClientBuilder, type CalendarClientBuilder, type CalendarClients } from '../../src/accounts/calendar-clients.js';
import type { AccountService } from '../../src/accounts/account-service.js';
import type { CalendarRegistry } from '../../src/calendars/calendar-registry.js';
import type { CalendarViews } from '../../src/calendars/calendar-views.js';
import { channelModel } from '../../src/channels/channel-model.js';
import type { ChannelService } from '../../src/channels/channel-service.js';
import type { PingReceiver } from '../../src/webhook/ping-receiver.js';
import type { Config } from '../../src/config/env.js';
import { connectDatabase } from '../../src/db/connect.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import type { Models } from '../../src/models/index.js';
import type { SyncEngine } from '../../src/sync/engine.js';
import type { RequestOutcome, SyncRequest, SyncRequester } from '../../src/sync/types.js';
import type { PingOutcome, RejectionReason } from '../../src/webhook/ping.js';
import type { WebhookMetrics } from '../../src/webhook/metrics.js';
import { testConfig } from './config.js';
import { testDbUri } from './db.js';

type TestLike = Pick<Test, 'teardown'>;

export const REFRESH_TOKEN = 'rt-push-tests-0123456789';
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghijkl';
export const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Records sync requests instead of syncing (unit tests of what asks for syncs). */
export class RecordingSync implements SyncRequester {
  readonly requests: Array<{ calendarId: string } & SyncRequest> = [];
  async requestSync(calendarId: string, request: SyncRequest = {}): Promise<RequestOutcome> {
    this.requests.push({ calendarId, ...request });
    return 'requested';
  }
}

/** Counts what the webhook reports, by reason and outcome. */
export class RecordingWebhookMetrics implements WebhookMetrics {
  readonly rejections = new Map<RejectionReason, number>();
  readonly outcomes = new Map<PingOutcome, number>();
  failures = 0;
  rejected(reason: RejectionReason): void {
    this.rejections.set(reason, (this.rejections.get(reason) ?? 0) + 1);
  }
  handled(outcome: PingOutcome): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }
  failed(): void {
    this.failures++;
  }
}

export const silentLog = { info() {}, warn() {}, error() {} };

export interface PushServices {
  channels: ChannelService;
  registry: CalendarRegistry;
  views: CalendarViews;
  receiver: PingReceiver;
}

export interface PushHarness {
  emu: Emulator;
  conn: Connection;
  dbUri: string;
  models: Models;
  config: Config;
  app: FastifyInstance;
  /** http://127.0.0.1:port when `listen` was asked for. */
  baseUrl: string;
  accounts: AccountService;
  clients: CalendarClients;
  push: PushServices;
  /** The real engine, or the recording fake when `sync: 'recording'`. */
  engine: SyncEngine | null;
  recording: RecordingSync;
  metrics: RecordingWebhookMetrics;
  /** Clock shared by channel service and verifier; move it with `advance` (the emulator's too). */
  advance(ms: number): void;
  now(): number;
  /** Registers an account and a calendar through the admin API; returns calsync's calendar id. */
  registerCalendar(gcalId: string): Promise<string>;
  accountId(): Promise<string>;
  activeChannels(calendarId: string): Promise<Array<{ _id: string; resourceId: string | null; expiration: Date | null }>>;
}

export interface PushHarnessOptions {
  /** 'engine' (default) runs real syncs; 'recording' only records requests. */
  sync?: 'engine' | 'recording';
  /** Listen on a real port so the emulator's pings reach the webhook. */
  listen?: boolean;
  env?: Record<string, string>;
  name: string;
  /** Awaited by the engine before each events.list call (lets a test hold a sync in flight). */
  beforeList?: () => Promise<void>;
  /** A pino logger for the app (tests that read the logs); silent by default. */
  logger?: Logger;
}

/** A client whose `events` methods can be wrapped; everything else is the real client. */
export function withEvents(
  client: calendar_v3.Calendar,
  wrap: (events: calendar_v3.Resource$Events) => Partial<Record<'list' | 'watch', (...args: never[]) => unknown>>,
): calendar_v3.Calendar {
  const events = Object.create(client.events) as calendar_v3.Resource$Events;
  Object.assign(events, wrap(client.events));
  return { ...client, events } as calendar_v3.Calendar;
}

export async function startPushHarness(t: TestLike, opts: PushHarnessOptions): Promise<PushHarness> {
  let offset = 0;
  const now = () => Date.now() + offset;
  const emu = await startEmulator({ now });
  t.teardown(() => emu.close());
  emu.addAccount(REFRESH_TOKEN);

  const port = opts.listen ? await freePort() : 3999;
  const baseUrl = `http://127.0.0.1:${port}`;
  const config = testConfig({
    GOOGLE_API_ROOT_URL: emu.url,
    GOOGLE_OAUTH_TOKEN_URL: emu.tokenUrl,
    GOOGLE_OAUTH_AUTH_URL: emu.authUrl,
    PUBLIC_BASE_URL: baseUrl,
    ADMIN_TOKEN,
    SYNC_BACKOFF_BASE_MS: '1',
    SYNC_BACKOFF_MAX_MS: '5',
    ...opts.env,
  });
  const dbUri = testDbUri(opts.name);
  const conn = await connectDatabase(dbUri);
  t.teardown(async () => {
    await conn.dropDatabase().catch(() => undefined);
    await conn.close();
  });

  // OAuth clients cache access tokens by the real clock; once a test moves the emulator's clock
  // those tokens are dead there, so every clock move switches to freshly built clients (as a
  // restart would). `beforeList` wraps events.list (the engine is the only caller).
  const realBuild = googleClientBuilder(config.google);
  const build: CalendarClientBuilder = (credentials) => {
    const make = (): calendar_v3.Calendar => {
      const client = realBuild(credentials);
      const gate = opts.beforeList;
      if (!gate) return client;
      return withEvents(client, (events) => ({
        list: async (...args: never[]) => {
          await gate();
          return (events.list as (...a: never[]) => unknown)(...args);
        },
      }));
    };
    let current = { offset, client: make() };
    return new Proxy({} as calendar_v3.Calendar, {
      get(_target, prop) {
        if (current.offset !== offset) current = { offset, client: make() };
        return Reflect.get(current.client, prop);
      },
    });
  };

  const app = await buildApp({
    config,
    conn,
    logger: opts.logger ?? false,
    overrides: { buildClient: build, now, engine: { now: () => new Date(now()) } },
  });
  const services = app.services;
  const clients = createCalendarClients({ conn, accounts: services.accounts, build });

  // Recording seams on the real wiring: the webhook and the registry call these very objects.
  const recording = new RecordingSync();
  const engine = (opts.sync ?? 'engine') === 'engine' ? services.engine : null;
  if (!engine) {
    services.engine.requestSync = (calendarId, request) => recording.requestSync(calendarId, request);
    // Nothing may sync in these tests, including the request a new calendar is created with.
    await services.engine.close();
  }
  const metrics = new RecordingWebhookMetrics();
  const real = { ...services.webhookMetrics };
  Object.assign(services.webhookMetrics, {
    rejected: (reason: RejectionReason) => (metrics.rejected(reason), real.rejected(reason)),
    handled: (outcome: PingOutcome) => (metrics.handled(outcome), real.handled(outcome)),
    failed: () => (metrics.failed(), real.failed()),
  });

  // app.close() closes the services too (engine first), before the database goes.
  t.teardown(() => app.close());
  if (opts.listen) await app.listen({ port, host: '127.0.0.1' });
  else await app.ready();

  let accountId: string | null = null;
  const Channel = channelModel(conn);
  const harness: PushHarness = {
    emu,
    conn,
    dbUri,
    models: services.models,
    config,
    app,
    baseUrl,
    accounts: services.accounts,
    clients,
    push: { channels: services.channels, registry: services.registry, views: services.views, receiver: services.receiver },
    engine,
    recording,
    metrics,
    advance(ms) {
      offset += ms;
    },
    now,
    async accountId() {
      if (!accountId) {
        const res = await app.inject({ method: 'POST', url: '/admin/accounts', headers: AUTH, payload: { refreshToken: REFRESH_TOKEN } });
        if (res.statusCode !== 201) throw new Error(`account registration failed: ${res.body}`);
        accountId = (res.json() as { id: string }).id;
      }
      return accountId;
    },
    async registerCalendar(gcalId) {
      emu.createCalendar(gcalId);
      const res = await app.inject({
        method: 'POST',
        url: '/admin/calendars',
        headers: AUTH,
        payload: { accountId: await harness.accountId(), googleCalendarId: gcalId },
      });
      if (res.statusCode !== 201) throw new Error(`calendar registration failed: ${res.body}`);
      return (res.json() as { id: string }).id;
    },
    async activeChannels(calendarId) {
      const docs = await Channel.find({ calendarId, status: 'active' }).lean();
      return docs.map((d) => ({ _id: d._id, resourceId: d.resourceId ?? null, expiration: d.expiration ?? null }));
    },
  };
  return harness;
}
