import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Types, type Connection } from 'mongoose';
import type { Logger } from 'pino';
import { accountModel } from '../accounts/account-model.js';
import type { CalendarClients } from '../accounts/calendar-clients.js';
import type { CalendarRegistry } from '../calendars/calendar-registry.js';
import type { ListChannels } from '../channels/list-channel.js';
import { classifyGoogleError } from '../google/google-errors.js';
import { calendarModel, type CalendarModel } from '../models/calendar.js';
import { unlimitedQuota, type QuotaGate } from '../quota/quota-gate.js';
import { NEVER, PRIORITY } from '../sync/priority.js';
import { decide, readCalendarList } from './discovery-pass.js';
import { DiscoveryState, type ClaimedDiscovery } from './discovery-state.js';

/** How a discovery pass ended (the `outcome` label of calsync_discovery_passes_total). */
export const DISCOVERY_OUTCOMES = ['ok', 'token_expired', 'disabled', 'failed', 'lease_lost'] as const;
export type DiscoveryOutcome = (typeof DISCOVERY_OUTCOMES)[number];

export interface DiscoveryPassReport {
  accountId: string;
  outcome: DiscoveryOutcome;
  full: boolean;
  created: number;
  reactivated: number;
  retired: number;
  removed: number;
  listChannel: string | null;
}

export interface DiscoveryServiceOptions {
  conn: Connection;
  clients: CalendarClients;
  registry: Pick<CalendarRegistry, 'admitDiscovered' | 'dropDiscovered'>;
  listChannels: ListChannels;
  log: Logger;
  quota?: QuotaGate;
  /** Identifies this process in leases; defaults to host:pid:random. */
  owner?: string;
  now?: () => number;
  /** The discovery lease (renewed while a pass runs; default 2 min). */
  leaseMs?: number;
  /** How often a started service looks for passes requested elsewhere or due again (default 5 s). */
  pollMs?: number;
  random?: () => number;
  onPass?: (outcome: DiscoveryOutcome) => void;
}

class LeaseLost extends Error {}

/**
 * Calendar discovery (DESIGN.md §5a shape): a request is one write on the account
 * (src/discovery/discovery-state.ts) made before anyone is answered; any replica claims due
 * accounts under the discovery lease and runs a pass: read the calendar list (incrementally with
 * its own sync token; the whole list the first time, after a policy change or a 410), admit what
 * the policy admits through the calendar registry (the same path as POST /admin/calendars), drop
 * what left or is no longer admitted, and keep the account's calendarList channel open.
 */
export class DiscoveryService {
  readonly state: DiscoveryState;
  private readonly Calendar: CalendarModel;
  private readonly owner: string;
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly quota: QuotaGate;
  private readonly closing = new AbortController();
  private pollTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(private readonly opts: DiscoveryServiceOptions) {
    this.state = new DiscoveryState(accountModel(opts.conn));
    this.Calendar = calendarModel(opts.conn);
    this.owner = opts.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.now = opts.now ?? Date.now;
    this.leaseMs = opts.leaseMs ?? 120_000;
    this.quota = opts.quota ?? unlimitedQuota;
  }

  /** Records the request (durable when this resolves), then wakes this process's worker. */
  async requestDiscovery(accountId: string, reason: string): Promise<boolean> {
    const recorded = await this.state.request(accountId, new Date(this.now()));
    this.opts.log.debug({ accountId, reason, recorded }, 'calendar discovery requested');
    if (recorded) this.kick();
    return recorded;
  }

  /** The cron's safety net: every discovering account gets a pass (calendarList pings are not 100% reliable either). */
  async requestAll(): Promise<number> {
    const marked = await this.state.requestAll(new Date(this.now()));
    if (marked > 0) this.kick();
    return marked;
  }

  /** Channel renewal (cron and `npm run renew-channels`): accounts whose list channel is due get a pass, run now. */
  async renewListChannels(): Promise<{ marked: number; passes: number }> {
    const marked = await this.state.requestChannelRenewals(new Date(this.now()));
    const passes = marked > 0 ? (await this.runDue()).length : 0;
    return { marked, passes };
  }

  /** Claims and runs due passes until none is due (or `max` ran). Safe next to other replicas. */
  async runDue(max = Infinity): Promise<DiscoveryPassReport[]> {
    const reports: DiscoveryPassReport[] = [];
    const seen = new Set<string>();
    while (reports.length < max && !this.closing.signal.aborted) {
      const claimed = await this.state.claim({ owner: this.owner, leaseMs: this.leaseMs, now: new Date(this.now()) });
      if (!claimed) break;
      reports.push(await this.pass(claimed));
      // Due again at once (a request arrived during the pass) is fine; a second time is left to the poll.
      if (seen.has(claimed.accountId)) break;
      seen.add(claimed.accountId);
    }
    return reports;
  }

  /** Starts working due passes in this process (every replica runs one). */
  start(): void {
    if (this.pollTimer || this.closing.signal.aborted) return;
    const poll = () => {
      this.kick();
      this.pollTimer = setTimeout(poll, this.opts.pollMs ?? 5_000);
      this.pollTimer.unref();
    };
    poll();
  }

  /** Resolves when this process has no pass running or wanted (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closing.abort();
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    await this.running?.catch(() => undefined);
  }

  private kick(): void {
    if (!this.pollTimer || this.closing.signal.aborted) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.runDue().catch((err: unknown) => this.opts.log.error({ err: { message: (err as Error).message } }, 'discovery worker failed'));
      } while (this.again && !this.closing.signal.aborted);
    })().finally(() => {
      this.running = null;
    });
  }

  private async pass(claimed: ClaimedDiscovery): Promise<DiscoveryPassReport> {
    const { accountId, policy } = claimed;
    const report: DiscoveryPassReport = { accountId, outcome: 'ok', full: false, created: 0, reactivated: 0, retired: 0, removed: 0, listChannel: null };
    if (claimed.reclaimed) this.opts.log.warn({ accountId }, 'reclaimed a discovery pass whose previous holder stopped renewing its lease');
    const lost = new AbortController();
    const signal = AbortSignal.any([this.closing.signal, lost.signal]);
    const heartbeat = setInterval(() => {
      void this.state.heartbeat(claimed, this.leaseMs, new Date(this.now())).then((ok) => ok || lost.abort(new LeaseLost()), () => undefined);
    }, Math.max(1_000, Math.floor(this.leaseMs / 3)));
    heartbeat.unref();
    const checkpoint = () => {
      if (signal.aborted) throw new LeaseLost();
    };
    try {
      if (policy.policy === 'none') {
        // Discovery off: no list channel; the calendars stay as they are (an operator's now).
        await this.opts.listChannels.retire(accountId, 'discovery turned off');
        report.outcome = 'disabled';
        if ((await this.state.succeed(claimed, { token: null, listChannelCheckAt: NEVER, now: new Date(this.now()) })) === 'stale') report.outcome = 'lease_lost';
        return report;
      }
      const api = await this.opts.clients.forAccount(accountId);
      await this.quota.acquire(accountId, PRIORITY.recovery, signal);
      const reading = await readCalendarList(api, claimed.listSyncToken, signal);
      report.full = reading.full || reading.tokenExpired;
      const known = report.full
        ? (await this.Calendar.find({ accountId: new Types.ObjectId(accountId), discovered: true, state: { $ne: 'retired' } }, { googleCalendarId: 1 }).lean()).map((c) => c.googleCalendarId)
        : [];
      const { admit, drop } = decide(policy, { ...reading, full: report.full }, known);
      for (const id of admit) {
        checkpoint();
        const r = await this.opts.registry.admitDiscovered(accountId, id);
        if (r.outcome === 'created') report.created++;
        else if (r.outcome === 'reactivated') report.reactivated++;
      }
      for (const id of drop) {
        checkpoint();
        const r = await this.opts.registry.dropDiscovered(accountId, id, policy.onRemoved);
        if (r === 'retired') report.retired++;
        else if (r === 'removed') report.removed++;
      }
      checkpoint();
      const channel = await this.opts.listChannels
        .ensure(accountId)
        .catch((err: unknown) => ({ outcome: 'failed' as const, error: (err as Error).message, nextCheckAt: new Date(this.now() + 15 * 60_000) }));
      report.listChannel = channel.outcome;
      const done = await this.state.succeed(claimed, { token: reading.nextSyncToken, listChannelCheckAt: channel.nextCheckAt, now: new Date(this.now()) });
      report.outcome = done === 'stale' ? 'lease_lost' : reading.tokenExpired ? 'token_expired' : 'ok';
      return report;
    } catch (err) {
      if (err instanceof LeaseLost || signal.aborted) {
        report.outcome = 'lease_lost';
        // Shutdown: let go so another replica takes it at once (a lost lease is not ours to release).
        if (this.closing.signal.aborted && !lost.signal.aborted) await this.state.release(claimed).catch(() => undefined);
        return report;
      }
      const classified = classifyGoogleError(err);
      report.outcome = 'failed';
      await this.state.fail(claimed, { code: classified.kind, message: classified.message.slice(0, 500) }, new Date(this.now()), this.opts.random);
      // The classified message is built to be token-free (never the raw request).
      this.opts.log.warn({ accountId, error: classified.message, status: classified.status }, 'calendar discovery pass failed');
      return report;
    } finally {
      clearInterval(heartbeat);
      this.opts.onPass?.(report.outcome);
      if (report.outcome !== 'failed') this.opts.log.info({ ...report }, 'calendar discovery pass finished');
    }
  }
}
