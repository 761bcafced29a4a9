import { Types, type Connection } from 'mongoose';
import { initialChannelSchedule } from '../channels/channel-schedule.js';
import type { ChannelService, EnsureResult } from '../channels/channel-service.js';
import { calendarModel, type CalendarModel } from '../models/calendar.js';
import { eventModel, type EventModel } from '../models/event.js';
import { PRIORITY } from '../sync/priority.js';
import { initialSyncRequest, retiredSyncFields } from '../sync/sync-state.js';
import { NEVER } from '../sync/priority.js';
import type { SyncRequester, SyncMode } from '../sync/types.js';
import { AccountNotFoundError, type AccountService } from '../accounts/account-service.js';
import { CalendarNotFoundError } from '../accounts/calendar-clients.js';

export class CalendarExistsError extends Error {
  readonly code = 'CALENDAR_EXISTS';
  constructor(readonly existingId: string) {
    super('this calendar is already registered for this account');
    this.name = 'CalendarExistsError';
  }
}

export interface RegisteredCalendar {
  id: string;
  accountId: string;
  googleCalendarId: string;
  mode: 'push' | 'polling';
  modeReason: string | null;
  channel: EnsureResult;
}

const isDuplicateKey = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === 11000;

/**
 * Registering and removing calendars: the operations behind the admin API. A calendar is created
 * with its full-sync request recorded, then its watch channel is opened, then one more sync is
 * requested, so no change between the full listing and the watch is missed: a change after the
 * watch pings us, and requests during the full sync are coalesced into one more pass.
 */
export class CalendarRegistry {
  private readonly Calendar: CalendarModel;
  private readonly Event: EventModel;

  constructor(
    conn: Connection,
    private readonly deps: { accounts: AccountService; channels: ChannelService; sync: SyncRequester },
  ) {
    this.Calendar = calendarModel(conn);
    this.Event = eventModel(conn);
  }

  async register(accountId: string, googleCalendarId: string): Promise<RegisteredCalendar> {
    if (!(await this.deps.accounts.exists(accountId))) throw new AccountNotFoundError(accountId);
    let id: string;
    try {
      // Created with its full-sync request and its channel work due, in the same write: durable
      // from the first moment (if opening the channel below fails, a renewal pass retries it).
      const now = new Date();
      const doc = await this.Calendar.create({ accountId, googleCalendarId, ...initialSyncRequest(now), ...initialChannelSchedule(now) });
      id = doc._id.toHexString();
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const existing = await this.Calendar.findOne({ accountId, googleCalendarId }).select({ _id: 1 }).lean();
      throw new CalendarExistsError(existing?._id.toHexString() ?? '');
    }
    let channel: EnsureResult;
    try {
      channel = await this.deps.channels.ensureChannel(id);
    } catch (err) {
      // The calendar is registered either way; the renewal pass retries a missing channel.
      channel = { outcome: 'failed', error: (err as Error).message };
    }
    // If the full sync already listed before the watch opened, a change in between sent no ping:
    // one more request covers it (and costs nothing if the full sync has not started yet).
    await this.deps.sync.requestSync(id, { reason: 'registered', priority: PRIORITY.recovery });
    const cal = await this.Calendar.findById(id).select({ mode: 1, modeReason: 1 }).lean();
    return {
      id,
      accountId,
      googleCalendarId,
      mode: cal?.mode ?? 'push',
      modeReason: cal?.modeReason ?? null,
      channel,
    };
  }

  /**
   * Calendar discovery admits a calendar: registered like POST /admin/calendars (marked
   * `discovered`), or, when it was retired earlier, brought back with a full sync and a new channel.
   * Idempotent and safe to race: the unique index on (account, Google calendar id) lets one
   * creation win; the losers find it registered and leave it alone.
   */
  async admitDiscovered(accountId: string, googleCalendarId: string): Promise<{ id: string; outcome: 'created' | 'reactivated' | 'present' }> {
    const now = new Date();
    let id: string;
    let outcome: 'created' | 'reactivated';
    try {
      const doc = await this.Calendar.create({ accountId, googleCalendarId, discovered: true, ...initialSyncRequest(now), ...initialChannelSchedule(now) });
      id = doc._id.toHexString();
      outcome = 'created';
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      // Back from retirement: a full sync (the mirror may have drifted meanwhile) and channel work due now.
      const back = await this.Calendar.findOneAndUpdate(
        { accountId, googleCalendarId, state: 'retired' },
        {
          $set: { state: 'idle', retiredAt: null, discovered: true, dueAt: now, pendingFullSync: true, channelCheckAt: now, channelHeldBy: null },
          $min: { priority: PRIORITY.recovery },
          $inc: { requests: 1, fullRequests: 1 },
        },
        { projection: { _id: 1 } },
      ).lean();
      if (!back) {
        const existing = await this.Calendar.findOne({ accountId, googleCalendarId }).select({ _id: 1 }).lean();
        return { id: existing?._id.toHexString() ?? '', outcome: 'present' };
      }
      id = back._id.toHexString();
      outcome = 'reactivated';
    }
    await this.deps.channels.ensureChannel(id).catch(() => undefined);
    await this.deps.sync.requestSync(id, { reason: 'discovered', priority: PRIORITY.recovery });
    return { id, outcome };
  }

  /**
   * Calendar discovery drops a calendar it had admitted (deleted, unshared, or no longer admitted by
   * the policy). `remove` deletes it and its mirror; `keep` retires it: syncs and channel work end
   * (leases taken over, so work in flight writes nothing more), channels stopped, mirror kept.
   * Calendars registered by an operator are never touched. Returns what was done.
   */
  async dropDiscovered(accountId: string, googleCalendarId: string, onRemoved: 'keep' | 'remove'): Promise<'removed' | 'retired' | 'none'> {
    const cal = await this.Calendar.findOne({ accountId, googleCalendarId, discovered: true, state: { $ne: 'retired' } }).select({ _id: 1 }).lean();
    if (!cal) return 'none';
    const id = cal._id.toHexString();
    if (onRemoved === 'remove') {
      await this.remove(id).catch((err: unknown) => {
        if (!(err instanceof CalendarNotFoundError)) throw err;
      });
      return 'removed';
    }
    const now = new Date();
    const sync = retiredSyncFields(now);
    const res = await this.Calendar.updateOne(
      { _id: cal._id, state: { $ne: 'retired' } },
      { $set: { ...sync.set, channelCheckAt: NEVER, channelHeldBy: null }, $inc: { ...sync.inc, channelEpoch: 1 } },
    );
    if (res.modifiedCount === 0) return 'none';
    await this.deps.channels.retireCalendarChannels(id, 'calendar left the calendar list');
    return 'retired';
  }

  async requestSync(calendarId: string, mode: SyncMode): Promise<void> {
    if (!(await this.exists(calendarId))) throw new CalendarNotFoundError(calendarId);
    const recorded = await this.deps.sync.requestSync(calendarId, { mode, reason: 'admin', priority: PRIORITY.recovery });
    if (recorded === 'skipped') throw new CalendarNotFoundError(calendarId);
  }

  /**
   * The per-calendar incremental switch (rollout canary / per-calendar rollback): true or false
   * overrides INCREMENTAL_SYNC_ENABLED for this calendar, null inherits it. The stored token is
   * kept either way, so switching back on resumes incremental sync without a full re-list.
   */
  async setIncrementalEnabled(calendarId: string, enabled: boolean | null): Promise<void> {
    if (!Types.ObjectId.isValid(calendarId)) throw new CalendarNotFoundError(calendarId);
    const r = await this.Calendar.updateOne({ _id: calendarId }, { $set: { incrementalEnabled: enabled } });
    if (r.matchedCount === 0) throw new CalendarNotFoundError(calendarId);
  }

  /**
   * Removes the calendar first (so pings and syncs for it become no-ops), then stops its channels
   * and deletes its mirror. Channel stops that fail stay recorded and the renewal pass retries them.
   */
  async remove(calendarId: string): Promise<{ channelsStopped: number; channelStopsPending: number; eventsRemoved: number }> {
    if (!Types.ObjectId.isValid(calendarId)) throw new CalendarNotFoundError(calendarId);
    const removed = await this.Calendar.deleteOne({ _id: calendarId });
    if (removed.deletedCount === 0) throw new CalendarNotFoundError(calendarId);
    const stops = await this.deps.channels.retireCalendarChannels(calendarId, 'calendar removed');
    const events = await this.Event.deleteMany({ calendarId: new Types.ObjectId(calendarId) });
    return { channelsStopped: stops.stopped, channelStopsPending: stops.failed, eventsRemoved: events.deletedCount };
  }

  async exists(calendarId: string): Promise<boolean> {
    return Types.ObjectId.isValid(calendarId) && (await this.Calendar.exists({ _id: calendarId })) !== null;
  }
}
