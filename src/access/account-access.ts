import { Types } from 'mongoose';
import type { Logger } from 'pino';
import type { AccountService } from '../accounts/account-service.js';
import type { CalendarClients } from '../accounts/calendar-clients.js';
import type { ChannelService } from '../channels/channel-service.js';
import { PRIORITY } from '../sync/priority.js';
import type { SyncStateRepository } from '../sync/sync-state.js';
import type { SyncRequester } from '../sync/types.js';

export interface AccountAccessDeps {
  accounts: AccountService;
  clients: CalendarClients;
  state: Pick<SyncStateRepository, 'parkAccount' | 'resumeAccount'>;
  /** Records a sync request durably and wakes a claimer (the sync engine). */
  sync: SyncRequester;
  channels: Pick<ChannelService, 'retireAccount' | 'resumeAccount' | 'ensureChannel' | 'stopSuperseded'>;
  log: Logger;
  now?: () => Date;
}

/**
 * What happens when an account loses Google access and when it gets it back.
 *
 *   lost      Google refused the refresh token (invalid_grant) in a sync, a watch or a stop: the
 *             account is marked reauth_required (one atomic write), its calendars are parked (no
 *             sync, no channel work), its channels retired here without a Google call (the token is
 *             dead). Tokens and mirror are kept. Every step is idempotent: whoever meets the refusal
 *             next converges on the same state, on any replica.
 *   restored  the same Google user connected again (src/connect/): each calendar gets a sync request
 *             (incremental where Google still takes the kept token), its channel work and parked
 *             stops are due again, and the channels are opened now, in the background.
 */
export class AccountAccess {
  private readonly now: () => Date;
  private readonly background = new Set<Promise<void>>();

  constructor(private readonly deps: AccountAccessDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** True when this call changed the account's status. `since`: when the refused credentials were picked up. */
  async lost(accountId: string, reason: string, since?: Date): Promise<boolean> {
    const changed = await this.deps.accounts.markReauthRequired(accountId, reason, { unchangedSince: since });
    this.deps.clients.forget?.(accountId);
    const state = await this.deps.accounts.accessState(accountId);
    // A reconnect after the refused credentials were picked up: nothing to park.
    if (state?.status !== 'reauth_required') return false;
    const parked = await this.deps.state.parkAccount(accountId, { code: 'reauth_required', message: `the account needs reconnecting: ${reason}` }, this.now());
    const retired = await this.deps.channels.retireAccount(accountId, 'account needs reconnecting');
    if (changed) this.deps.log.warn({ accountId, reason, calendarsParked: parked, channelsRetired: retired }, 'Google refused the account refresh token; account needs reconnecting');
    return changed;
  }

  /** The account has working credentials again (a reconnect). Returns how many calendars were asked to sync. */
  async restored(accountId: string): Promise<number> {
    this.deps.clients.forget?.(accountId);
    let requested = 0;
    for (const id of await this.deps.state.resumeAccount(accountId, this.now())) {
      if ((await this.deps.sync.requestSync(id, { reason: 'reconnected', priority: PRIORITY.recovery })) === 'requested') requested++;
    }
    const calendarIds = await this.deps.channels.resumeAccount(accountId);
    this.deps.log.info({ accountId, syncsRequested: requested, channelsDue: calendarIds.length }, 'account reconnected; syncs and channels resumed');
    // Durable already (channel work is due): opening them now only saves waiting for the renewal cron.
    const reopening = this.reopenChannels(accountId, calendarIds);
    this.background.add(reopening);
    void reopening.finally(() => this.background.delete(reopening));
    return requested;
  }

  /** Resolves when the channel work started by reconnects is done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  private async reopenChannels(accountId: string, calendarIds: string[]): Promise<void> {
    try {
      await this.deps.channels.stopSuperseded({ accountId: new Types.ObjectId(accountId) });
      for (const id of calendarIds) await this.deps.channels.ensureChannel(id);
    } catch (err) {
      this.deps.log.warn({ accountId, err: { message: (err as Error).message } }, 'reopening channels after a reconnect failed; the renewal cron retries');
    }
  }
}
