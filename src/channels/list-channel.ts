import { Types } from 'mongoose';
import type { CalendarClients } from '../accounts/calendar-clients.js';
import { unlimitedQuota, type QuotaGate } from '../quota/quota-gate.js';
import { PRIORITY } from '../sync/priority.js';
import { supersededFields, type ChannelModel } from './channel-model.js';
import { channelRenewAt } from './channel-schedule.js';
import { liveChannel } from './live-channel.js';
import type { ChannelLog, StopSummary } from './channel-stopper.js';
import { newChannelSecrets } from './channel-token.js';
import { classifyWatchFailure } from './watch-refusal.js';

export interface ListChannelsOptions {
  Channel: ChannelModel;
  clients: CalendarClients;
  /** The webhook address (the same verified endpoint event channels use). */
  address: string;
  ttlSeconds: number;
  renewLeadSeconds: number;
  log: ChannelLog;
  now: () => number;
  quota?: QuotaGate;
  timeoutMs?: number;
  /** A pending watch older than this was never confirmed (default 10 min, as for event channels). */
  pendingGraceMs?: number;
  /** Stops superseded channels matching the filter (ChannelService.stopSuperseded). */
  stopSuperseded: (filter: Record<string, unknown>) => Promise<StopSummary>;
}

export interface ListChannelResult {
  outcome: 'current' | 'opened' | 'awaiting' | 'failed';
  /** When the account's list channel next needs a look (renewal lead, or a retry). */
  nextCheckAt: Date;
  channelId?: string;
  error?: string;
}

/** A failed watch is tried again after this (the cron safety net covers the list meanwhile). */
const RETRY_AFTER_FAILURE_MS = 15 * 60_000;

/**
 * The calendarList channel of an account (`calendarList.watch`): its pings ask for a discovery
 * pass. Stored in the same `channels` collection as event channels (`kind: 'calendarList'`, no
 * calendar), so pings are verified by the same code, stale pending watches are settled and
 * superseded channels stopped by the same sweeps. Called only by the discovery pass, under the
 * account's discovery lease, so two replicas never open one each; the pass stores
 * `nextCheckAt` as the account's `listChannelCheckAt`, which the renewal cron turns into a pass.
 */
export class ListChannels {
  constructor(private readonly opts: ListChannelsOptions) {}

  async ensure(accountId: string): Promise<ListChannelResult> {
    const now = this.opts.now();
    const grace = this.opts.pendingGraceMs ?? 10 * 60_000;
    const live = await liveChannel(this.opts.Channel, { accountId: new Types.ObjectId(accountId), kind: 'calendarList' }, { now, renewLeadSeconds: this.opts.renewLeadSeconds, pendingGraceMs: grace });
    if (live.kind === 'current') {
      await this.settle(accountId);
      return { outcome: 'current', channelId: live.channelId, nextCheckAt: channelRenewAt(live.expiration, new Date(now), this.opts.renewLeadSeconds) };
    }
    if (live.kind === 'awaiting') return { outcome: 'awaiting', channelId: live.channelId, nextCheckAt: live.confirmBy };
    return this.open(accountId);
  }

  /** Discovery turned off (or the account is gone): every live list channel superseded and stopped. */
  async retire(accountId: string, reason: string): Promise<StopSummary> {
    const filter = { accountId: new Types.ObjectId(accountId), kind: 'calendarList' as const };
    await this.opts.Channel.updateMany({ ...filter, status: { $in: ['active', 'pending'] } }, { $set: supersededFields(new Date(this.opts.now()), reason) });
    return this.opts.stopSuperseded(filter);
  }

  private async open(accountId: string): Promise<ListChannelResult> {
    const client = await this.opts.clients.forAccount(accountId);
    await (this.opts.quota ?? unlimitedQuota).acquire(accountId, PRIORITY.renewal);
    const { id, token, tokenHash } = newChannelSecrets();
    // Saved before the watch call: Google's first `sync` ping may arrive before watch returns.
    await this.opts.Channel.create({ _id: id, kind: 'calendarList', accountId, tokenHash, status: 'pending' });
    let data;
    try {
      const res = await client.calendarList.watch(
        { requestBody: { id, type: 'web_hook', address: this.opts.address, token, params: { ttl: String(this.opts.ttlSeconds) } } },
        { timeout: this.opts.timeoutMs ?? 30_000 },
      );
      data = res.data;
    } catch (err) {
      const { kind, error } = classifyWatchFailure(err);
      const now = new Date(this.opts.now());
      // No answer: the channel may exist at Google; left pending, the stale-pending sweep settles it.
      if (kind !== 'uncertain') {
        await this.opts.Channel.updateOne(
          { _id: id, status: 'pending' },
          { $set: { status: 'stopped', stoppedAt: now, watchError: error.message, endReason: 'watch refused' } },
        );
      } else {
        await this.opts.Channel.updateOne({ _id: id }, { $set: { watchError: error.message } });
      }
      this.opts.log.warn({ accountId, channelId: id, error: error.message }, 'calendarList.watch failed');
      return { outcome: 'failed', channelId: id, error: error.message, nextCheckAt: new Date(now.getTime() + RETRY_AFTER_FAILURE_MS) };
    }
    const expiration = data.expiration ? new Date(Number(data.expiration)) : null;
    await this.opts.Channel.updateOne(
      { _id: id, status: 'pending' },
      { $set: { status: 'active', resourceId: data.resourceId ?? null, resourceUri: data.resourceUri ?? null, expiration, activatedAt: new Date(this.opts.now()) } },
    );
    this.opts.log.info({ accountId, channelId: id, expiration }, 'calendarList channel opened');
    await this.settle(accountId);
    return { outcome: 'opened', channelId: id, nextCheckAt: channelRenewAt(expiration, new Date(this.opts.now()), this.opts.renewLeadSeconds) };
  }

  /** Leaves one active list channel per account (the newest); older ones are superseded and stopped. */
  private async settle(accountId: string): Promise<void> {
    const filter = { accountId: new Types.ObjectId(accountId), kind: 'calendarList' as const };
    const active = await this.opts.Channel.find({ ...filter, status: 'active' }).sort({ createdAt: -1, _id: -1 }).select({ _id: 1 }).lean();
    const [keep, ...older] = active.map((c) => c._id);
    if (!keep || older.length === 0) return;
    await this.opts.Channel.updateMany(
      { _id: { $in: older }, status: 'active' },
      { $set: { ...supersededFields(new Date(this.opts.now()), 'renewed'), supersededBy: keep } },
    );
    await this.opts.stopSuperseded(filter);
  }
}
