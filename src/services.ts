import type { Connection } from 'mongoose';
import type { Logger } from 'pino';
import type { Config } from './config/env.js';
import { registerModels, type Models } from './models/index.js';
import { createMetrics, type Metrics } from './metrics/registry.js';
import { AccountService, createCalendarClients, googleClientBuilder, type CalendarClientBuilder } from './accounts/index.js';
import { KeyRing } from './crypto/key-ring.js';
import { CalendarRegistry } from './calendars/calendar-registry.js';
import { CalendarViews } from './calendars/calendar-views.js';
import { ChannelService } from './channels/index.js';
import { SyncEngine, type SyncEngineOptions } from './sync/engine.js';
import { PingReceiver, PingVerifier, prometheusWebhookMetrics, type WebhookMetrics } from './webhook/index.js';
import { syncRunModel, type SyncRunModel } from './ops/sync-run.js';
import { createSyncObserver } from './ops/sync-observer.js';
import { accountAlerts, evaluateAlerts, summarizeLastHour, type Alert } from './ops/alerts.js';
import { runSafetyNet } from './cron/safety-net.js';
import { AccountAccess } from './access/account-access.js';
import { migrateSyncState } from './sync/migrate-sync-state.js';
import { numberUnlistedCalendars } from './models/list-position.js';
import { migrateChannelSchedule } from './channels/migrate-channel-schedule.js';
import type { QuotaGate } from './quota/quota-gate.js';
import { startCron, type CronScheduler } from './cron/scheduler.js';
import { QuotaGovernor } from './quota/quota-governor.js';
import { prometheusQuotaMetrics } from './quota/quota-metrics.js';
import { ConnectSessions } from './connect/connect-session.js';
import { GoogleConnect } from './connect/google-connect.js';
import { ChangeFeed } from './changes/change-feed.js';
import { ensureRetentionIndex } from './changes/retention.js';
import { SubscriptionService } from './subscriptions/subscription-service.js';
import { DeliveryWorker, type DeliveryWorkerOptions } from './subscriptions/delivery-worker.js';
import { DiscoveryService } from './discovery/discovery-service.js';
import { ListChannels } from './channels/list-channel.js';
import { channelModel } from './channels/channel-model.js';
import { webhookAddress } from './channels/channel-token.js';

export interface ServiceOverrides {
  /** Replace how API clients are built (tests point them at the emulator with their own credentials). */
  buildClient?: CalendarClientBuilder;
  /** Engine knobs tests need (small pages, fast sleep, page hooks). */
  engine?: Partial<Pick<SyncEngineOptions, 'pageSize' | 'sleep' | 'random' | 'onPageStored' | 'now' | 'owner' | 'pollMs'>>;
  now?: () => number;
  /** Replaces the quota governor that sync and channel calls go through (tests). */
  quota?: QuotaGate;
  /** The change feed's clock (cursor expiry). */
  changesNow?: () => Date;
  /** Delivery knobs tests need (clock, back-off, poll). */
  deliveries?: Partial<Pick<DeliveryWorkerOptions, 'now' | 'backoffBaseMs' | 'pollMs' | 'idleMs' | 'random' | 'owner' | 'deliver'>>;
  /** Calendar discovery's lease owner (tests that race two runners). */
  discoveryOwner?: string;
}

/** Calendars one cron tick claims for channel work at most; the rest are due on the next tick. */
const RENEWALS_PER_TICK = 5_000;

export interface Services {
  config: Config;
  models: Models;
  SyncRun: SyncRunModel;
  metrics: Metrics;
  webhookMetrics: WebhookMetrics;
  accounts: AccountService;
  /** Revoked access and reconnects (src/access/). */
  access: AccountAccess;
  channels: ChannelService;
  engine: SyncEngine;
  registry: CalendarRegistry;
  views: CalendarViews;
  receiver: PingReceiver;
  /** Connecting accounts through consent; undefined while no OAuth client is configured. */
  connect: GoogleConnect | undefined;
  changeFeed: ChangeFeed;
  subscriptions: SubscriptionService;
  deliveries: DeliveryWorker;
  /** Calendar discovery: calendarList sync per account, by its policy. */
  discovery: DiscoveryService;
  alerts(): Promise<Alert[]>;
  /** One renewal pass (`npm run renew-channels`: until no calendar is due; the cron job passes a bound). */
  renewChannels(pass?: Parameters<ChannelService['renewDue']>[0]): ReturnType<ChannelService['renewDue']>;
  /** One safety-net pass: marks stale, polled and never-synced calendars due (the cron job). */
  resync(): ReturnType<typeof runSafetyNet>;
  /** Brings old documents up to date (once per database), then starts claiming sync work (every replica does). */
  startWorkers(): Promise<void>;
  /** Starts the cron jobs (when CRON_ENABLED); idempotent. */
  startCron(): void;
  /** Stops cron and lets running syncs finish or abort; the caller closes the connection. */
  close(): Promise<void>;
}

/**
 * The composition root: every domain service built once, wired in one direction (HTTP → domain →
 * storage / Google). The HTTP app, the server entry and the scripts all build from here.
 */
export function createServices(config: Config, conn: Connection, log: Logger, overrides: ServiceOverrides = {}): Services {
  const models = registerModels(conn);
  const SyncRun = syncRunModel(conn);
  const metrics = createMetrics();
  const webhookMetrics = prometheusWebhookMetrics(metrics);
  const now = overrides.now ?? Date.now;

  const accounts = new AccountService(conn, new KeyRing(config.encryptionKeys));
  const clients = createCalendarClients({ conn, accounts, build: overrides.buildClient ?? googleClientBuilder(config.google) });

  // One budget for every replica and for sync and channel calls alike: the counters live in the
  // shared database. Built by every script too: only a started server creates its indexes.
  const governor = new QuotaGovernor({
    conn,
    ...config.quota,
    metrics: prometheusQuotaMetrics(metrics),
    deferIndexes: true,
  });
  const quota: QuotaGate = overrides.quota ?? governor;
  // `access` is built below, once the engine and channels it drives exist; they report refusals through it.
  const onReauthRequired = async (accountId: string, reason: string, since: Date): Promise<void> => void (await access.lost(accountId, reason, since));
  const engine = new SyncEngine({
    models,
    quota,
    sync: config.sync,
    clientFor: (calendar) => clients.forAccount(calendar.accountId),
    logger: log,
    onSyncFinished: createSyncObserver({ metrics, SyncRun, log }),
    pollMs: config.sync.pollMs,
    onReauthRequired,
    ...overrides.engine,
  });

  const channels = new ChannelService({
    conn,
    clients,
    publicBaseUrl: config.publicBaseUrl,
    ttlSeconds: config.channels.ttlSeconds,
    renewLeadSeconds: config.channels.renewLeadSeconds,
    log: log.child({ component: 'channels' }),
    now,
    quota,
    onRenewalOutcome: (outcome) => metrics.channelRenewals.inc({ outcome }),
    onReauthRequired,
  });
  const access = new AccountAccess({ accounts, clients, state: engine.state, sync: engine, channels, log: log.child({ component: 'access' }) });

  const registry = new CalendarRegistry(conn, { accounts, channels, sync: engine });
  const views = new CalendarViews(conn, { renewLeadSeconds: config.channels.renewLeadSeconds, now });
  const listChannels = new ListChannels({
    Channel: channelModel(conn),
    clients,
    address: webhookAddress(config.publicBaseUrl),
    ttlSeconds: config.channels.ttlSeconds,
    renewLeadSeconds: config.channels.renewLeadSeconds,
    log: log.child({ component: 'channels' }),
    now,
    quota,
    stopSuperseded: (filter) => channels.stopSuperseded(filter),
  });
  const discovery = new DiscoveryService({
    conn,
    clients,
    registry,
    listChannels,
    log: log.child({ component: 'discovery' }),
    quota,
    now,
    owner: overrides.discoveryOwner,
    onPass: (outcome) => metrics.discoveryPasses.inc({ outcome }),
  });
  const receiver = new PingReceiver(new PingVerifier(conn, now), engine, discovery);

  const oauthConfigured = config.google.clientId !== '' && config.google.clientSecret !== '';
  const connect = oauthConfigured
    ? new GoogleConnect(
        { ...config.connect, clientId: config.google.clientId, clientSecret: config.google.clientSecret, tokenUrl: config.google.oauthTokenUrl },
        new ConnectSessions(conn, new KeyRing(config.encryptionKeys), now),
        accounts,
        async (c) => {
          clients.forget?.(c.accountId);
          if (c.restored) await access.restored(c.accountId);
          // Durable before the result page is shown; the pass itself runs on any replica.
          await discovery.requestDiscovery(c.accountId, 'connected');
        },
      )
    : undefined;

  // Documents from before channel scheduling get their due times first (once per database).
  let channelMigration: Promise<boolean> | null = null;
  const migrateChannels = () => (channelMigration ??= migrateChannelSchedule(conn, models, config.channels.renewLeadSeconds));
  const renewChannels: Services['renewChannels'] = async (pass) => {
    await migrateChannels();
    const report = await channels.renewDue(pass);
    // calendarList channels are renewed by a discovery pass of their account (under its lease).
    return { ...report, listChannels: await discovery.renewListChannels() };
  };
  const changeFeed = new ChangeFeed(conn, { retentionMs: config.changes.retentionDays * 86_400_000, now: overrides.changesNow });

  const policy = { allowLoopback: config.subscriptions.allowLoopback };
  const subscriptions = new SubscriptionService(conn, { keys: new KeyRing(config.encryptionKeys), policy, now: overrides.deliveries?.now });
  const deliveries = new DeliveryWorker({
    conn,
    subscriptions,
    policy,
    ...config.subscriptions,
    logger: log,
    onAttempt: (a) => {
      metrics.deliveries.inc({ outcome: a.outcome });
      if (a.outcome === 'delivered' && a.oldestSeenAt) metrics.deliveryDelay.observe((Date.now() - a.oldestSeenAt.getTime()) / 1000);
    },
    ...overrides.deliveries,
  });

  const resync = () =>
    runSafetyNet({
      Calendar: models.Calendar,
      state: engine.state,
      staleMinutes: config.cron.resyncStaleMinutes,
      pollMinutes: config.cron.pollMinutes,
      log: log.child({ component: 'cron' }),
    });

  let cron: CronScheduler | null = null;
  return {
    config,
    models,
    SyncRun,
    metrics,
    webhookMetrics,
    accounts,
    access,
    channels,
    engine,
    registry,
    views,
    receiver,
    connect,
    changeFeed,
    subscriptions,
    deliveries,
    discovery,
    alerts: async () => [...evaluateAlerts(await summarizeLastHour(SyncRun)), ...accountAlerts(await accounts.countByStatus())],
    renewChannels,
    resync,
    async startWorkers() {
      await migrateSyncState(conn, models);
      // In the background: calendars from before list positions are listed once numbered.
      void numberUnlistedCalendars(conn).catch((err: unknown) => log.warn({ err }, 'could not number calendars for the lists'));
      await migrateChannels();
      await governor.init();
      await ensureRetentionIndex(changeFeed.Change, config.changes.retentionDays * 86_400);
      engine.start();
      deliveries.start();
      discovery.start();
    },
    startCron() {
      if (cron || !config.cronEnabled) return;
      cron = startCron(
        [
          { name: 'renew-channels', schedule: config.cron.renewSchedule, run: () => renewChannels({ maxCalendars: RENEWALS_PER_TICK }) },
          { name: 'resync', schedule: config.cron.resyncSchedule, run: resync },
          { name: 'discovery', schedule: config.cron.discoverySchedule, run: () => discovery.requestAll() },
        ],
        log.child({ component: 'cron' }),
        { startJitterMs: config.cron.jitterSeconds * 1000 },
      );
    },
    async close() {
      await cron?.stop();
      cron = null;
      await Promise.all([engine.close(), deliveries.close(), discovery.close(), access.idle()]);
    },
  };
}
