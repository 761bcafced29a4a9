import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Types, type Connection } from 'mongoose';
import type { CalendarClients } from '../accounts/calendar-clients.js';
import { calendarModel, type CalendarModel } from '../models/calendar.js';
import { CalendarClaims } from './calendar-claims.js';
import { channelModel, type ChannelModel } from './channel-model.js';
import { newChannelSecrets, webhookAddress } from './channel-token.js';
import { ChannelStopper, type ChannelLog, type StopSummary } from './channel-stopper.js';
import { mapPool, renewalCandidates, settleStalePending } from './renewal-scan.js';
import { classifyWatchFailure } from './watch-refusal.js';

export type { ChannelLog, StopSummary } from './channel-stopper.js';

export interface ChannelServiceOptions {
  conn: Connection;
  clients: CalendarClients;
  publicBaseUrl: string;
  ttlSeconds: number;
  renewLeadSeconds: number;
  log: ChannelLog;
  /** Identifies this process in claims; defaults to host:pid:random. */
  owner?: string;
  now?: () => number;
  /** How long a per-calendar claim lasts if its holder dies (default 2 min). */
  claimTtlMs?: number;
  /** A pending channel older than this was never confirmed (default 10 min). */
  pendingGraceMs?: number;
  /** Timeout for each Google call (default 30 s). */
  googleTimeoutMs?: number;
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
  /** Calendars looked at: channel due for renewal, or push calendar without a channel. */
  candidates: number;
  renewed: number;
  created: number;
  /** Another renewer held the calendar (it does the work). */
  busy: number;
  /** Renewal found the calendar already has a current channel (renewed meanwhile by someone else). */
  alreadyCurrent: number;
  switchedToPolling: number;
  failed: Array<{ calendarId: string; error: string }>;
  stops: StopSummary;
  abandonedPending: number;
}

/**
 * Watch channels: open, renew, retire, stop. Every channel is saved (pending) before `events.watch`
 * is called, renewal opens the new channel before superseding the old one, and superseded channels
 * are stopped (retried until Google confirms or says they are gone). Work on one calendar happens
 * under a per-calendar claim in MongoDB, so replicas and `npm run renew-channels` never double up.
 */
export class ChannelService {
  private readonly Channel: ChannelModel;
  private readonly Calendar: CalendarModel;
  private readonly claims: CalendarClaims;
  private readonly now: () => number;
  private readonly address: string;
  private readonly pendingGraceMs: number;
  private readonly timeout: number;
  private readonly stopper: ChannelStopper;

  constructor(private readonly opts: ChannelServiceOptions) {
    this.Channel = channelModel(opts.conn);
    this.Calendar = calendarModel(opts.conn);
    this.now = opts.now ?? Date.now;
    const owner = opts.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.claims = new CalendarClaims(opts.conn, owner, opts.claimTtlMs ?? 120_000, this.now);
    this.address = webhookAddress(opts.publicBaseUrl);
    this.pendingGraceMs = opts.pendingGraceMs ?? 10 * 60_000;
    this.timeout = opts.googleTimeoutMs ?? 30_000;
    this.stopper = new ChannelStopper({ Channel: this.Channel, clients: opts.clients, log: opts.log, now: this.now, timeoutMs: this.timeout });
  }

  /** Makes sure a push calendar has a current channel (not due for renewal); opens one if not. */
  async ensureChannel(calendarId: string): Promise<EnsureResult> {
    const result = await this.claims.withClaim(calendarId, () => this.ensureClaimed(calendarId));
    return result ?? { outcome: 'busy' };
  }

  /** One renewal pass over the fleet (the cron job and `npm run renew-channels`). */
  async renewDue(concurrency = 8): Promise<RenewalReport> {
    const report: RenewalReport = {
      candidates: 0,
      renewed: 0,
      created: 0,
      busy: 0,
      alreadyCurrent: 0,
      switchedToPolling: 0,
      failed: [],
      stops: { stopped: 0, failed: 0 },
      abandonedPending: 0,
    };
    report.abandonedPending = await settleStalePending(this.Channel, this.now(), this.pendingGraceMs);
    const candidates = await renewalCandidates(this.Channel, this.Calendar, this.now(), this.opts.renewLeadSeconds);
    report.candidates = candidates.length;
    await mapPool(candidates, concurrency, async (calendarId) => {
      let r: EnsureResult;
      try {
        r = await this.ensureChannel(calendarId);
      } catch (err) {
        r = { outcome: 'failed', error: (err as Error).message };
      }
      const renewed = r.outcome === 'opened' && r.replaced.length > 0;
      this.opts.onRenewalOutcome?.(r.outcome === 'opened' ? (renewed ? 'renewed' : 'created') : r.outcome);
      if (r.outcome === 'opened' && renewed) report.renewed++;
      else if (r.outcome === 'opened') report.created++;
      else if (r.outcome === 'busy') report.busy++;
      else if (r.outcome === 'current') report.alreadyCurrent++;
      else if (r.outcome === 'polling') report.switchedToPolling++;
      else if (r.outcome === 'failed') report.failed.push({ calendarId, error: r.error });
    });
    report.stops = await this.stopper.stopSuperseded();
    return report;
  }

  /** Calendar removal (or polling): every live channel is superseded, then stopped at Google. */
  async retireCalendarChannels(calendarId: string, reason: string): Promise<StopSummary> {
    if (!Types.ObjectId.isValid(calendarId)) return { stopped: 0, failed: 0 };
    await this.Channel.updateMany(
      { calendarId: new Types.ObjectId(calendarId), status: { $in: ['active', 'pending'] } },
      { $set: { status: 'superseded', supersededAt: new Date(this.now()), endReason: reason } },
    );
    return this.stopper.stopSuperseded({ calendarId: new Types.ObjectId(calendarId) });
  }

  /** Retries stopping superseded channels (all by default); failures stay recorded for the next pass. */
  stopSuperseded(filter: Record<string, unknown> = {}): Promise<StopSummary> {
    return this.stopper.stopSuperseded(filter);
  }

  // ---- under the calendar claim -------------------------------------------------------------

  private async ensureClaimed(calendarId: string): Promise<EnsureResult> {
    const calendar = Types.ObjectId.isValid(calendarId)
      ? await this.Calendar.findById(calendarId).select({ mode: 1 }).lean()
      : null;
    if (!calendar) {
      await this.retireCalendarChannels(calendarId, 'calendar removed');
      return { outcome: 'skipped', reason: 'calendar not found' };
    }
    if (calendar.mode !== 'push') {
      await this.retireCalendarChannels(calendarId, 'calendar is polled');
      return { outcome: 'skipped', reason: 'calendar is polled' };
    }
    const active = await this.Channel.find({ calendarId: calendar._id, status: 'active' })
      .sort({ createdAt: -1, _id: -1 })
      .lean();
    const renewAfter = this.now() + this.opts.renewLeadSeconds * 1000;
    const current = active.find((c) => !c.expiration || c.expiration.getTime() > renewAfter);
    if (current) {
      await this.settle(calendarId);
      return { outcome: 'current', channelId: current._id, expiration: current.expiration ?? null };
    }
    return this.open(calendarId);
  }

  private async open(calendarId: string): Promise<EnsureResult> {
    const { client, googleCalendarId, accountId } = await this.opts.clients.forCalendar(calendarId);
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
      return this.watchFailed(calendarId, id, err);
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
    // The calendar may have been removed while we were opening: do not leave the new channel behind.
    if (!(await this.Calendar.exists({ _id: calendarId }))) await this.retireCalendarChannels(calendarId, 'calendar removed');
    return { outcome: 'opened', channelId: id, expiration, replaced };
  }

  private async watchFailed(calendarId: string, channelId: string, err: unknown): Promise<EnsureResult> {
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
      { $set: { status: 'superseded', supersededAt: new Date(this.now()), supersededBy: keep, endReason: 'renewed' } },
    );
    for (const id of older) await this.stopper.stop(id);
    return older;
  }
}
