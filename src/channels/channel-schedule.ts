import { Types } from 'mongoose';
import { Lease, type Held } from '../leases/lease.js';
import type { CalendarModel } from '../models/calendar.js';
import { backoffDelay } from '../sync/backoff.js';
import { NEVER } from '../sync/priority.js';

/**
 * When each calendar next needs channel work (open, renew or retire its watch channel), and who is
 * doing it now. One stored time per calendar, `channelCheckAt`, is also the lease's `until`:
 *
 *   due        channelCheckAt ≤ now: a new calendar, a channel inside the renewal lead, a retry.
 *   claim      any renewer takes a due calendar with one atomic findOneAndUpdate (the lease);
 *              a renewer that dies mid-work is replaced once the lease runs out.
 *   done       the holder releases with the next due time: the new channel's expiration minus
 *              CHANNEL_RENEW_LEAD_SECONDS; NEVER for a polled calendar; a back-off after a failure.
 *
 * Renewal passes read nothing else: they claim due calendars until none is left (or a bound).
 */
export const CHANNEL_LEASE_FIELDS = { until: 'channelCheckAt', owner: 'channelHeldBy', epoch: 'channelEpoch' } as const;

/** Retries after failed channel work: 1 min doubling to 1 h, jittered (the renewal lead is hours). */
const FAILURE_BACKOFF = { maxRetries: Infinity, baseMs: 60_000, maxMs: 3_600_000 };

export interface ClaimedChannelWork {
  calendarId: string;
  held: Held;
  /** channelCheckAt before the claim. */
  dueAt: Date;
  failures: number;
  /** The calendar's delivery mode at the claim. */
  mode: string;
}

type Raw = { _id: Types.ObjectId; channelCheckAt?: Date | null; channelFailures?: number | null; mode?: string | null };

/** The channel scheduling fields of a new calendar: channel work due at once. */
export function initialChannelSchedule(now: Date): Record<string, unknown> {
  return { channelCheckAt: now };
}

export class ChannelSchedule {
  readonly lease: Lease;

  constructor(
    private readonly Calendar: CalendarModel,
    private readonly opts: { owner: string; leaseMs: number; renewLeadSeconds: number; random?: () => number },
  ) {
    this.lease = new Lease(Calendar, CHANNEL_LEASE_FIELDS);
  }

  /**
   * Claims the calendar due longest (or the given one, if due: a read first, so one another renewer
   * holds costs a read). Shaped for the {channelCheckAt} index.
   */
  async claim(now: Date, calendarId?: string): Promise<ClaimedChannelWork | null> {
    if (calendarId !== undefined && !Types.ObjectId.isValid(calendarId)) return null;
    const opts = { owner: this.opts.owner, leaseMs: this.opts.leaseMs, now, projection: { channelCheckAt: 1, channelFailures: 1, mode: 1 } } as const;
    const claimed =
      calendarId === undefined
        ? await this.lease.claim<Raw>({}, { ...opts, sort: { channelCheckAt: 1 } })
        : await this.lease.claimById<Raw>(new Types.ObjectId(calendarId), opts);
    if (!claimed) return null;
    return {
      calendarId: claimed.doc._id.toHexString(),
      held: claimed.held,
      dueAt: claimed.doc.channelCheckAt ?? new Date(0),
      failures: claimed.doc.channelFailures ?? 0,
      mode: claimed.doc.mode ?? 'push',
    };
  }

  /**
   * Up to `limit` calendars whose channel work is due, oldest first: one indexed read. Each is then
   * claimed by id (cheap), rather than every claim searching the due range again (on a large due
   * backlog that search is what costs).
   */
  async dueIds(now: Date, limit: number): Promise<string[]> {
    const docs = await this.Calendar.find({ channelCheckAt: { $lte: now } }, { _id: 1 }).sort({ channelCheckAt: 1 }).limit(limit).lean();
    return docs.map((d) => d._id.toHexString());
  }

  /** Who holds the calendar's channel lease now (null: nobody, or no such calendar). */
  async holder(calendarId: string, now: Date): Promise<string | null> {
    if (!Types.ObjectId.isValid(calendarId)) return null;
    const doc = await this.Calendar.findById(calendarId, { channelHeldBy: 1, channelCheckAt: 1 }).lean();
    return doc?.channelHeldBy && doc.channelCheckAt && doc.channelCheckAt > now ? doc.channelHeldBy : null;
  }

  /** The channel is current: next look when it enters the renewal lead. False: lease lost or calendar gone. */
  current(work: ClaimedChannelWork, expiration: Date | null, now: Date): Promise<boolean> {
    return this.lease.release(work.held, { until: this.renewAt(expiration, now), set: { channelFailures: 0 } });
  }

  /** No channel wanted (polled calendar): never due until something schedules it again. */
  never(work: ClaimedChannelWork): Promise<boolean> {
    return this.lease.release(work.held, { until: NEVER, set: { channelFailures: 0 } });
  }

  /** Nothing to do before `at` (e.g. a watch awaiting confirmation). */
  later(work: ClaimedChannelWork, at: Date): Promise<boolean> {
    return this.lease.release(work.held, { until: at });
  }

  /** The work failed: retried after a back-off that grows with each failure in a row. */
  failed(work: ClaimedChannelWork, now: Date): Promise<boolean> {
    const delay = backoffDelay(work.failures, FAILURE_BACKOFF, this.opts.random ?? Math.random);
    return this.lease.release(work.held, { until: new Date(now.getTime() + delay), inc: { channelFailures: 1 } });
  }

  /**
   * The account needs reconnecting: no channel work for its calendars (one write on the accountId
   * index). Work held right now ends by itself: it meets the account check and calls never().
   */
  async parkAccount(accountId: string): Promise<number> {
    const res = await this.Calendar.updateMany({ accountId: new Types.ObjectId(accountId), channelHeldBy: null }, { $set: { channelCheckAt: NEVER } });
    return res.modifiedCount;
  }

  /** The account was reconnected: channel work due now for its push calendars not being worked on. */
  async resumeAccount(accountId: string, now: Date): Promise<string[]> {
    const filter = { accountId: new Types.ObjectId(accountId), mode: 'push' as const, channelHeldBy: null };
    await this.Calendar.updateMany(filter, { $set: { channelCheckAt: now, channelFailures: 0 } });
    return (await this.Calendar.find(filter, { _id: 1 }).lean()).map((d) => d._id.toHexString());
  }

  /**
   * When a channel expiring at `expiration` needs renewing: the renewal lead before it. If Google
   * granted less than the lead, halfway to expiry instead, so a short channel is not renewed in a loop.
   */
  renewAt(expiration: Date | null, now: Date): Date {
    return channelRenewAt(expiration, now, this.opts.renewLeadSeconds);
  }
}

/** ChannelSchedule.renewAt for any channel (calendarList channels are renewed on the same rule). */
export function channelRenewAt(expiration: Date | null, now: Date, renewLeadSeconds: number): Date {
  const lead = renewLeadSeconds * 1000;
  // No expiration means Google keeps it until stopped: look again after one lead.
  if (!expiration) return new Date(now.getTime() + lead);
  const at = expiration.getTime() - lead;
  if (at > now.getTime()) return new Date(at);
  return new Date(now.getTime() + Math.max(60_000, (expiration.getTime() - now.getTime()) / 2));
}
