import type { calendar_v3 } from 'googleapis';
import { Types, type Connection } from 'mongoose';
import type { Config } from '../config/env.js';
import { createCalendarClient, type ServiceAccountKey } from '../google/calendar-client.js';
import { calendarModel, type CalendarModel } from '../models/calendar.js';
import { AccountNotFoundError, AccountReauthRequiredError, type AccountService } from './account-service.js';
import type { AccountCredentials } from './credentials.js';

/** Builds an authenticated Calendar API client from opened credentials (the Google boundary supplies it). */
export type CalendarClientBuilder = (credentials: AccountCredentials) => calendar_v3.Calendar;

/** The production builder: the Google boundary's client, pointed at config.google (Google or the emulator). */
export function googleClientBuilder(google: Config['google']): CalendarClientBuilder {
  return (credentials) =>
    credentials.kind === 'oauth'
      ? createCalendarClient({
          apiRootUrl: google.apiRootUrl,
          requestTimeoutMs: google.requestTimeoutMs,
          oauthTokenUrl: google.oauthTokenUrl,
          clientId: google.clientId,
          clientSecret: google.clientSecret,
          refreshToken: credentials.refreshToken,
        })
      : createCalendarClient({
          apiRootUrl: google.apiRootUrl,
          requestTimeoutMs: google.requestTimeoutMs,
          serviceAccountKey: credentials.serviceAccountKey as unknown as ServiceAccountKey,
          subject: credentials.subject,
        });
}

export class CalendarNotFoundError extends Error {
  readonly code = 'CALENDAR_NOT_FOUND';
  constructor(calendarId: string) {
    super(`calendar ${calendarId} does not exist`);
    this.name = 'CalendarNotFoundError';
  }
}

export interface CalendarClients {
  /**
   * The client for an account (channels of a deleted calendar are still stopped through their account).
   * Throws AccountReauthRequiredError while the account needs reconnecting: no Google call is made for it.
   */
  forAccount(accountId: string): Promise<calendar_v3.Calendar>;
  /** The client for the account that owns a registered calendar, plus its Google calendar id. */
  forCalendar(calendarId: string): Promise<{ client: calendar_v3.Calendar; googleCalendarId: string; accountId: string }>;
  /** Drops the cached client after the account's credentials changed (a reconnect). */
  forget?(accountId: string): void;
}

/**
 * Decrypts an account's credentials on first use and keeps one client per account, so the OAuth
 * client's cached access token is reused instead of refreshed on every call. Each use first reads the
 * account's status and version (one read by _id): a client built from older credentials is dropped
 * (a reconnect on any replica changes the version), and an account that needs reconnecting gets no
 * client at all, so its dead token is not sent to Google again from any replica.
 */
export function createCalendarClients(deps: { conn: Connection; accounts: AccountService; build: CalendarClientBuilder }): CalendarClients {
  const Calendar: CalendarModel = calendarModel(deps.conn);
  const cache = new Map<string, { version: number; client: Promise<calendar_v3.Calendar> }>();

  const forAccount = async (accountId: string): Promise<calendar_v3.Calendar> => {
    const access = await deps.accounts.accessState(accountId);
    if (!access) {
      cache.delete(accountId);
      throw new AccountNotFoundError(accountId);
    }
    if (access.status === 'reauth_required') {
      cache.delete(accountId);
      throw new AccountReauthRequiredError(accountId, access.statusReason);
    }
    const cached = cache.get(accountId);
    if (cached && cached.version === access.version) return cached.client;
    const client = deps.accounts.credentials(accountId).then(deps.build);
    const entry = { version: access.version, client };
    // A failure (unknown account, wrong key) must not be cached: the next call tries again.
    client.catch(() => {
      if (cache.get(accountId) === entry) cache.delete(accountId);
    });
    cache.set(accountId, entry);
    return client;
  };

  return {
    forAccount,
    forget: (accountId) => void cache.delete(accountId),
    async forCalendar(calendarId) {
      if (!Types.ObjectId.isValid(calendarId)) throw new CalendarNotFoundError(calendarId);
      const cal = await Calendar.findById(calendarId).select({ accountId: 1, googleCalendarId: 1 }).lean();
      if (!cal) throw new CalendarNotFoundError(calendarId);
      const accountId = cal.accountId.toHexString();
      return { client: await forAccount(accountId), googleCalendarId: cal.googleCalendarId, accountId };
    },
  };
}
