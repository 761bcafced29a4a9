import type { calendar_v3 } from 'googleapis';
import { Types, type Connection } from 'mongoose';
import type { Config } from '../config/env.js';
import { createCalendarClient, type ServiceAccountKey } from '../google/calendar-client.js';
import { calendarModel, type CalendarModel } from '../models/calendar.js';
import type { AccountService } from './account-service.js';
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
  /** The client for an account (channels of a deleted calendar are still stopped through their account). */
  forAccount(accountId: string): Promise<calendar_v3.Calendar>;
  /** The client for the account that owns a registered calendar, plus its Google calendar id. */
  forCalendar(calendarId: string): Promise<{ client: calendar_v3.Calendar; googleCalendarId: string; accountId: string }>;
  /** Drops the cached client after the account's credentials changed (a reconnect). */
  forget?(accountId: string): void;
}

/**
 * Decrypts an account's credentials on first use and keeps one client per account, so the OAuth
 * client's cached access token is reused instead of refreshed on every call. A reconnect replaces
 * the credentials and calls forget(), so the next call opens the new ones.
 */
export function createCalendarClients(deps: { conn: Connection; accounts: AccountService; build: CalendarClientBuilder }): CalendarClients {
  const Calendar: CalendarModel = calendarModel(deps.conn);
  const cache = new Map<string, Promise<calendar_v3.Calendar>>();

  const forAccount = (accountId: string): Promise<calendar_v3.Calendar> => {
    let client = cache.get(accountId);
    if (!client) {
      client = deps.accounts.credentials(accountId).then(deps.build);
      // A failure (unknown account, wrong key) must not be cached: the next call tries again.
      client.catch(() => cache.delete(accountId));
      cache.set(accountId, client);
    }
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
