import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Types, type Connection } from 'mongoose';
import { AccountReauthRequiredError } from '../accounts/account-service.js';
import type { CalendarClients } from '../accounts/calendar-clients.js';
import { isRevokedGrant } from '../google/google-errors.js';
import { calendarModel, type CalendarModel } from '../models/calendar.js';
import { unlimitedQuota, type QuotaGate } from '../quota/quota-gate.js';
import { NEVER, PRIORITY } from '../sync/priority.js';
import { channelModel, supersededFields, type ChannelModel } from './channel-model.js';
import { ChannelSchedule, type ClaimedChannelWork } from './channel-schedule.js';
import { newChannelSecrets, webhookAddress } from './channel-token.js';
import { ChannelStopper, type ChannelLog, type StopSummary } from './channel-stopper.js';
import { liveChannel } from './live-channel.js';
import { settleStalePending } from './renewal-scan.js';
import { classifyWatchFailure } from './watch-refusal.js';

export type { ChannelLog, StopSummary } from './channel-stopper.js';

export interface ChannelServiceOptions {
  conn: Connection;
  clients: CalendarClients;
  publicBaseUrl: string;
  ttlSeconds: number;
  renewLeadSeconds: number;
  log: ChannelLog;
  /** Identifies this process in leases; defaults to host:pid:random. */
  owner?: string;
  now?: () => number;
  /** How long a calendar's channel lease lasts if its holder dies (default 2 min). */
  leaseMs?: number;
  /** A pending channel older than this was never confirmed (default 10 min). */
  pendingGraceMs?: number;
  /** Timeout for each Google call (default 30 s). */
  googleTimeoutMs?: number;
  /** Permission for each events.watch and channels.stop call (default: no budget). */
  quota?: QuotaGate;
  /** Jitter for failure back-offs (tests pin it). */
  random?: () => number;
  /** Google refused an account's refresh token (credentials picked up at `since`): mark it (src/access/). */
  onReauthRequired?: (accountId: string, reason: string, since: Date) => Promise<void>;
  /** Metrics hook, once per calendar in a renewal pass (e.g. calsync_channel_renewals_total). Must not throw. */
  onRenewalOutcome?: (outcome: 'renewed' | 'created' | 'busy' | 'current' | 'polling' | 'skipped' | 'failed') => void;
}

/** What ensuring a calendar's channel did. */
export type EnsureResult =
  | { outcome: 'opened'; channelId: string; expiration: Date | null; replaced: string[] }
  | { outcome: 'current'; channelId: string; expiration: Date | null }
  | { outcome: 'polling'; reason: string }
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'busy' }
  | { outcome: 'failed'; error: string };

export interface RenewalReport {
  /** Calendars whose channel work was due and claimed by this pass. */
  candidates: number;
  renewed: number;
  created: number;
  /** The calendar's channel turned out to be current (renewed meanwhile by someone else). */
  alreadyCurrent: number;
  switchedToPolling: number;
  failed: Array<{ calendarId: string; error: string }>;
  stops: StopSummary;
  abandonedPending: number;
  /** calendarList channels: accounts marked for renewal, and discovery passes run for them (src/discovery/). */
  listChannels?: { marked: number; passes: number };
}

/** Due calendars read per batch (each then claimed by id). */
const DUE_BATCH = 100;

export interface RenewalPassOptions {
  /** Calendars worked on at once (default 8). */
  concurrency?: number;
  /** Stop after claiming this many calendars (the cron's per-tick bound); default: until none is due. */
  maxCalendars?: number;
}

/**
 * Watch channels: open, renew, retire, stop. Every channel is saved (pending) before `events.watch`
 * is called, renewal opens the new channel before superseding the old one, and superseded channels
 * are stopped (retried until Google confirms or says they are gone). Channel work on a calendar is
 * scheduled by a time stored on it and done under its channel lease (src/channels/channel-schedule.ts),
 * so replicas and `npm run renew-channels` never double up.
 */
export class ChannelService {
  private readonly Channel: ChannelModel;
  private readonly Calendar: CalendarModel;
  private readonly schedule: ChannelSchedule;
  private readonly now: () => number;
  private readonly address: string;
  private readonly pendingGraceMs: number;
  private readonly timeout: number;
  private readonly quota: QuotaGate;
  private readonly stopper: ChannelStopper;

  constructor(private readonly opts: ChannelServiceOptions) {
    this.Channel = channelModel(opts.conn);
    this.Calendar = calendarModel(opts.conn);
    this.now = opts.now ?? Date.now;
    const owner = opts.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.schedule = new ChannelSchedule(this.Calendar, {
      owner,
      leaseMs: opts.leaseMs ?? 120_000,
      renewLeadSeconds: opts.renewLeadSeconds,
      random: opts.random,
    });
    this.address = webhookAddress(opts.publicBaseUrl);
    this.pendingGraceMs = opts.pendingGraceMs ?? 10 * 60_000;
    this.timeout = opts.googleTimeoutMs ?? 30_000;
    this.quota = opts.quota ?? unlimitedQuota;
    this.stopper = new ChannelStopper({
      Channel: this.Channel,
      clients: opts.clients,
      log: opts.log,
      now: this.now,
      timeoutMs: this.timeout,
      owner,
      quota: this.quota,
      onReauthRequired: opts.onReauthRequired,
    });
  }

  /**
   * Does the calendar's channel work now if it is due (a new calendar is due at once); otherwise
   * says what stands: its current channel, or 'busy' while another renewer holds it.
   */
  async ensureChannel(calendarId: string): Promise<EnsureResult> {
    const now = new Date(this.now());
    const work = await this.schedule.claim(now, calendarId);
    if (work) return this.work(work);
    if (await this.schedule.holder(calendarId, now)) return { outcome: 'busy' };
    if (!(await this.exists(calendarId))) {
      await this.retireCalendarChannels(calendarId, 'calendar removed');
      return { outcome: 'skipped', reason: 'calendar not found' };
    }
    const current = await this.newestActive(calendarId);
    if (current) return { outcome: 'current', channelId: current._id, expiration: current.expiration ?? null };
    return { outcome: 'skipped', reason: 'no channel work due' };
  }

  /**
   * One renewal pass (the cron job and `npm run renew-channels`): reads due calendars in batches of
   * 100 (one indexed read each) and claims them one by one with the lease (`concurrency` at once)
   * until none is due or `maxCalendars` were claimed, then stops superseded channels. Reads no list of the fleet, so replicas and the script running at once share the work
   * and each due calendar is worked on once.
   */
  async renewDue(pass: RenewalPassOptions = {}): Promise<RenewalReport> {
    const report: RenewalReport = {
      candidates: 0,
      renewed: 0,
      created: 0,
      alreadyCurrent: 0,
      switchedToPolling: 0,
      failed: [],
      stops: { stopped: 0, failed: 0 },
      abandonedPending: 0,
    };
    report.abandonedPending = await settleStalePending(this.Channel, this.now(), this.pendingGraceMs);
    const max = pass.maxCalendars ?? Infinity;
    const concurrency = pass.concurrency ?? 8;
    // Calendars claimed in this pass: one due again already (a failure with a short back-off) is
    // left for the next pass rather than retried in a loop.
    const seen = new Set<string>();
    while (report.candidates < max) {
      const batch = (await this.schedule.dueIds(new Date(this.now()), Math.min(DUE_BATCH, max - report.candidates))).filter((id) => !seen.has(id));
      if (batch.length === 0) break;
      // Replicas read the same due calendars: each starts at a different point to collide less.
      const offset = Math.floor(Math.random() * batch.length);
      const queue = [...batch.slice(offset), ...batch.slice(0, offset)];
      const worker = async (): Promise<void> => {
        for (let id = queue.shift(); id !== undefined && report.candidates < max; id = queue.shift()) {
          seen.add(id);
          // Claimed by someone else (or no longer due) since the read: theirs.
          const work = await this.schedule.claim(new Date(this.now()), id);
          if (!work) continue;
          report.candidates++;
          this.record(report, work.calendarId, await this.work(work).catch((err: unknown): EnsureResult => ({ outcome: 'failed', error: (err as Error).message })));
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
    }
    report.stops = await this.stopper.stopSuperseded();
    return report;
  }

  private record(report: RenewalReport, calendarId: string, r: EnsureResult): void {
    const renewed = r.outcome === 'opened' && r.replaced.length > 0;
    this.opts.onRenewalOutcome?.(r.outcome === 'opened' ? (renewed ? 'renewed' : 'created') : r.outcome);
    if (r.outcome === 'opened' && renewed) report.renewed++;
    else if (r.outcome === 'opened') report.created++;
    else if (r.outcome === 'current') report.alreadyCurrent++;
    else if (r.outcome === 'polling') report.switchedToPolling++;
    else if (r.outcome === 'failed') report.failed.push({ calendarId, error: r.error });
  }

  /** Calendar removal (or polling): every live channel is superseded, then stopped at Google. */
  async retireCalendarChannels(calendarId: string, reason: string): Promise<StopSummary> {
    if (!Types.ObjectId.isValid(calendarId)) return { stopped: 0, failed: 0 };
    await this.Channel.updateMany(
      { calendarId: new Types.ObjectId(calendarId), status: { $in: ['active', 'pending'] } },
      { $set: supersededFields(new Date(this.now()), reason) },
    );
    return this.stopper.stopSuperseded({ calendarId: new Types.ObjectId(calendarId) });
  }

  /**
   * The account needs reconnecting: no channel work for its calendars, and its live channels retired
   * here without calling Google (its token is dead): superseded with their stop parked, so nothing
   * renews them and a reconnect can still stop them with the new token.
   */
  async retireAccount(accountId: string, reason: string): Promise<number> {
    if (!Types.ObjectId.isValid(accountId)) return 0;
    await this.schedule.parkAccount(accountId);
    const calendarIds = (await this.Calendar.find({ accountId: new Types.ObjectId(accountId) }, { _id: 1 }).lean()).map((c) => c._id);
    if (calendarIds.length === 0) return 0;
    const byCalendar = { calendarId: { $in: calendarIds } };
    const retired = await this.Channel.updateMany(
      { ...byCalendar, status: { $in: ['active', 'pending'] } },
      { $set: { ...supersededFields(new Date(this.now()), reason), stopNotBefore: NEVER } },
    );
    await this.Channel.updateMany({ ...byCalendar, status: 'superseded', stopHeldBy: null }, { $set: { stopNotBefore: NEVER } });
    return retired.modifiedCount;
  }

  /**
   * The account was reconnected: its parked stops are due again and its push calendars' channel work
   * is due now (durable: the renewal cron does it if nobody else does). Returns those calendars' ids.
   */
  async resumeAccount(accountId: string): Promise<string[]> {
    if (!Types.ObjectId.isValid(accountId)) return [];
    const now = new Date(this.now());
    const calendarIds = (await this.Calendar.find({ accountId: new Types.ObjectId(accountId) }, { _id: 1 }).lean()).map((c) => c._id);
    if (calendarIds.length > 0) {
      await this.Channel.updateMany({ calendarId: { $in: calendarIds }, status: 'superseded', stopNotBefore: NEVER }, { $set: { stopNotBefore: now } });
    }
    return this.schedule.resumeAccount(accountId, now);
  }

  /** Retries stopping superseded channels (all by default); failures stay recorded for the next pass. */
  stopSuperseded(filter: Record<string, unknown> = {}): Promise<StopSummary> {
    return this.stopper.stopSuperseded(filter);
  }

  // ---- under the calendar's channel lease ---------------------------------------------------

  /** Does the claimed work and releases the lease with the calendar's next due time. */
  private async work(work: ClaimedChannelWork): Promise<EnsureResult> {
    let result: EnsureResult;
    try {
      result = await this.ensureClaimed(work);
    } catch (err) {
      if (err instanceof AccountReauthRequiredError) {
        // Nothing to do until the account is reconnected, which makes this work due again.
        await this.schedule.never(work);
        return { outcome: 'skipped', reason: 'the account needs reconnecting' };
      }
      await this.schedule.failed(work, new Date(this.now())).catch(() => undefined);
      throw err;
    }
    if (result.outcome === 'failed') await this.schedule.failed(work, new Date(this.now()));
    return result;
  }

  private async ensureClaimed(work: ClaimedChannelWork): Promise<EnsureResult> {
    const { calendarId } = work;
    // The claim read the mode; a calendar removed since is caught when the lease is released.
    if (work.mode !== 'push') {
      await this.retireCalendarChannels(calendarId, 'calendar is polled');
      await this.schedule.never(work);
      return { outcome: 'skipped', reason: 'calendar is polled' };
    }
    const now = this.now();
    const live = await liveChannel(this.Channel, { calendarId: new Types.ObjectId(calendarId) }, { now, renewLeadSeconds: this.opts.renewLeadSeconds, pendingGraceMs: this.pendingGraceMs });
    if (live.kind === 'current') {
      await this.settle(calendarId);
      await this.schedule.current(work, live.expiration, new Date(now));
      return { outcome: 'current', channelId: live.channelId, expiration: live.expiration };
    }
    // A watch that got no answer may still be live at Google: wait for its confirmation (or for the
    // grace period, after which the pass settles it) rather than open a second one.
    if (live.kind === 'awaiting') {
      await this.schedule.later(work, live.confirmBy);
      return { outcome: 'skipped', reason: 'a watch is awaiting confirmation' };
    }
    return this.open(work);
  }

  private async open(work: ClaimedChannelWork): Promise<EnsureResult> {
    const { calendarId } = work;
    // Wall clock, like the account's statusChangedAt it is compared with.
    const since = new Date();
    const { client, googleCalendarId, accountId } = await this.opts.clients.forCalendar(calendarId);
    await this.quota.acquire(accountId, PRIORITY.renewal);
    const { id, token, tokenHash } = newChannelSecrets();
    // Saved before the watch call: Google's first `sync` ping may arrive before watch returns.
    await this.Channel.create({ _id: id, calendarId, accountId, googleCalendarId, tokenHash, status: 'pending' });
    let data;
    try {
      const res = await client.events.watch(
        {
          calendarId: googleCalendarId,
          requestBody: { id, type: 'web_hook', address: this.address, token, params: { ttl: String(this.opts.ttlSeconds) } },
        },
        { timeout: this.timeout },
      );
      data = res.data;
    } catch (err) {
      if (isRevokedGrant(err)) {
        await this.Channel.updateOne({ _id: id, status: 'pending' }, { $set: { status: 'stopped', stoppedAt: new Date(this.now()), endReason: 'watch refused: account needs reconnecting' } });
        await this.opts.onReauthRequired?.(accountId, 'Google refused the refresh token while opening a push channel (invalid_grant)', since);
        await this.schedule.never(work);
        return { outcome: 'skipped', reason: 'the account needs reconnecting' };
      }
      return this.watchFailed(work, id, err);
    }
    const expiration = data.expiration ? new Date(Number(data.expiration)) : null;
    await this.Channel.updateOne(
      { _id: id, status: 'pending' },
      {
        $set: {
          status: 'active',
          resourceId: data.resourceId ?? null,
          resourceUri: data.resourceUri ?? null,
          expiration,
          activatedAt: new Date(this.now()),
        },
      },
    );
    this.opts.log.info({ calendarId, channelId: id, expiration }, 'watch channel opened');
    const replaced = await this.settle(calendarId);
    // The release fails if the calendar was removed while we were opening: do not leave the new
    // channel behind. (It also fails if our lease ran out; then the calendar still exists.)
    if (!(await this.schedule.current(work, expiration, new Date(this.now()))) && !(await this.exists(calendarId))) {
      await this.retireCalendarChannels(calendarId, 'calendar removed');
    }
    return { outcome: 'opened', channelId: id, expiration, replaced };
  }

  private async watchFailed(work: ClaimedChannelWork, channelId: string, err: unknown): Promise<EnsureResult> {
    const { calendarId } = work;
    const { kind, error } = classifyWatchFailure(err);
    const now = new Date(this.now());
    if (kind === 'uncertain') {
      await this.Channel.updateOne({ _id: channelId }, { $set: { watchError: error.message } });
      this.opts.log.warn({ calendarId, channelId, error: error.message }, 'watch failed without an answer; channel left pending');
      return { outcome: 'failed', error: `events.watch failed: ${error.message}` };
    }
    await this.Channel.updateOne(
      { _id: channelId, status: 'pending' },
      { $set: { status: 'stopped', stoppedAt: now, watchError: error.message, endReason: 'watch refused' } },
    );
    if (kind === 'rejected') {
      this.opts.log.warn({ calendarId, channelId, error: error.message }, 'watch rejected');
      return { outcome: 'failed', error: `events.watch failed: ${error.message}` };
    }
    const reason = `Google refused push notifications (${error.message}); changes are picked up by polling`;
    await this.Calendar.updateOne({ _id: calendarId }, { $set: { mode: 'polling', modeReason: reason } });
    // A refused renewal leaves the old channel delivering until it expires; polling replaces it now.
    await this.retireCalendarChannels(calendarId, 'calendar is polled');
    await this.schedule.never(work);
    this.opts.log.warn({ calendarId, error: error.message }, 'watch refused; calendar falls back to polling');
    return { outcome: 'polling', reason };
  }

  /**
   * Leaves exactly one active channel: the newest by (createdAt, _id). Every runner that activates a
   * channel calls this afterwards, so whichever activation comes last sees all of them and the same
   * one survives whatever the interleaving. Returns the ids it superseded, after stopping them.
   */
  private async settle(calendarId: string): Promise<string[]> {
    const active = await this.Channel.find({ calendarId: new Types.ObjectId(calendarId), status: 'active' })
      .sort({ createdAt: -1, _id: -1 })
      .select({ _id: 1 })
      .lean();
    const [keep, ...older] = active.map((c) => c._id);
    if (!keep || older.length === 0) return [];
    await this.Channel.updateMany(
      { _id: { $in: older }, status: 'active' },
      { $set: { ...supersededFields(new Date(this.now()), 'renewed'), supersededBy: keep } },
    );
    for (const id of older) await this.stopper.stop(id);
    return older;
  }

  private async newestActive(calendarId: string): Promise<{ _id: string; expiration?: Date | null } | null> {
    return this.Channel.findOne({ calendarId: new Types.ObjectId(calendarId), status: 'active' })
      .sort({ createdAt: -1, _id: -1 })
      .select({ _id: 1, expiration: 1 })
      .lean();
  }

  private async exists(calendarId: string): Promise<boolean> {
    return Types.ObjectId.isValid(calendarId) && (await this.Calendar.exists({ _id: calendarId })) !== null;
  }
}
