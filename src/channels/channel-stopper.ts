import type { CalendarClients } from '../accounts/calendar-clients.js';
import { classifyGoogleError } from '../google/google-errors.js';
import type { ChannelModel } from './channel-model.js';
import { stopMeansGone } from './watch-refusal.js';

/** The logging surface channel work needs (pino and Fastify's logger both fit). */
export interface ChannelLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface StopSummary {
  stopped: number;
  failed: number;
}

/** How long one stopper holds a channel before another may try (covers one channels.stop call). */
const STOP_CLAIM_MS = 60_000;

/**
 * Stops superseded channels at Google. A channel is claimed first (short lease on the document), so
 * two renewers never both call channels.stop for it. Success, or 404/410 ("already gone"), marks it
 * stopped; any other failure leaves it superseded with `stopAttempts` / `lastStopError`, for the
 * next pass to retry: no channel is forgotten while Google may still deliver on it.
 */
export class ChannelStopper {
  constructor(
    private readonly deps: { Channel: ChannelModel; clients: CalendarClients; log: ChannelLog; now: () => number; timeoutMs: number },
  ) {}

  /** Stops every superseded channel matching `filter` (all by default). */
  async stopSuperseded(filter: Record<string, unknown> = {}): Promise<StopSummary> {
    const ids = (await this.deps.Channel.find({ ...filter, status: 'superseded' }).distinct('_id')) as string[];
    const summary: StopSummary = { stopped: 0, failed: 0 };
    for (const id of ids) {
      const r = await this.stop(id);
      if (r === 'stopped') summary.stopped++;
      else if (r === 'failed') summary.failed++;
    }
    return summary;
  }

  /** 'busy' when the channel is not superseded any more or another stopper holds it. */
  async stop(channelId: string): Promise<'stopped' | 'failed' | 'busy'> {
    const { Channel } = this.deps;
    const now = this.deps.now();
    const channel = await Channel.findOneAndUpdate(
      { _id: channelId, status: 'superseded', $or: [{ stopClaimUntil: null }, { stopClaimUntil: { $lt: new Date(now) } }] },
      { $set: { stopClaimUntil: new Date(now + STOP_CLAIM_MS) } },
      { returnDocument: 'after' },
    ).lean();
    if (!channel) return 'busy';
    if (!channel.resourceId) {
      await this.markStopped(channelId, 'never confirmed by Google: nothing to stop');
      return 'stopped';
    }
    try {
      const client = await this.deps.clients.forAccount(channel.accountId.toHexString());
      await client.channels.stop({ requestBody: { id: channelId, resourceId: channel.resourceId } }, { timeout: this.deps.timeoutMs });
    } catch (err) {
      if (stopMeansGone(err)) {
        await this.markStopped(channelId, 'already gone at Google');
        return 'stopped';
      }
      const message = classifyGoogleError(err).message;
      await Channel.updateOne({ _id: channelId }, { $inc: { stopAttempts: 1 }, $set: { lastStopError: message, stopClaimUntil: null } });
      this.deps.log.warn({ channelId, error: message }, 'channels.stop failed; will retry');
      return 'failed';
    }
    await this.markStopped(channelId, null);
    return 'stopped';
  }

  private async markStopped(channelId: string, note: string | null): Promise<void> {
    const set: Record<string, unknown> = { status: 'stopped', stoppedAt: new Date(this.deps.now()), stopClaimUntil: null };
    if (note) set.endReason = note;
    await this.deps.Channel.updateOne({ _id: channelId, status: { $ne: 'stopped' } }, { $set: set });
  }
}
