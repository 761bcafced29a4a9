// In-process entry point: start an emulator on a port, drive it over HTTP with googleapis, or
// directly through the helpers below (same semantics as the API: seq, etags, pings).

import type { AddressInfo } from 'node:net';
import type { calendar_v3 } from 'googleapis';
import { listAll } from './listing.js';
import type { PingSettings, PingStats } from './push.js';
import { buildEmulatorApp } from './server.js';
import { EmulatorState } from './state.js';
import type { HistoryLimits, PagingSettings } from './listing.js';
import type { FaultRule } from './faults.js';
import type { CallRecord } from './call-log.js';
import { userLabel, type QuotaSettings } from './quota.js';
import type { AccessRole } from './identity.js';

export interface EmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  logger?: boolean;
  /** Injectable clock in ms; drives access-token and channel expiry. */
  now?: () => number;
  /** Ping delivery defaults (retry backoff, attempts, drop/duplicate rates). */
  pings?: Partial<PingSettings>;
}

export interface ChannelInfo {
  id: string;
  resourceId: string;
  address: string;
  expiration: number;
  stopped: boolean;
  calendarId: string;
  token?: string;
}

export interface Emulator {
  /** Base URL without trailing slash, e.g. http://127.0.0.1:54321 */
  url: string;
  /** url + '/token' */
  tokenUrl: string;
  /** Stops the server and cancels pending ping retries/timers. */
  close(): Promise<void>;
  createCalendar(id: string, opts?: { summary?: string; timeZone?: string }): void;
  /** Returns the account's opaque label, as the call log names it. */
  addAccount(refreshToken: string): string;
  insertEvent(calendarId: string, body: Partial<calendar_v3.Schema$Event>): calendar_v3.Schema$Event;
  patchEvent(calendarId: string, eventId: string, patch: Partial<calendar_v3.Schema$Event>): calendar_v3.Schema$Event;
  deleteEvent(calendarId: string, eventId: string): void;
  /** Live state, as a complete full list would return it (no deleted events; with
   *  singleEvents=false, cancelled exceptions of live series are listed, as on Google). */
  listAllEvents(calendarId: string, opts?: { singleEvents?: boolean; timeMin?: string; timeMax?: string }): calendar_v3.Schema$Event[];
  /** Per-method call counts (googleapis method names, plus "token"). */
  stats(): Record<string, number>;
  channels(): ChannelInfo[];
  /** Resolves when every queued or in-flight ping delivery (retries included) has settled. */
  flushPings(): Promise<void>;
  // ---- additions beyond the base contract ----
  /** Many inserts with a single change notification (one ping per channel). */
  insertEvents(calendarId: string, bodies: Array<Partial<calendar_v3.Schema$Event>>): calendar_v3.Schema$Event[];
  invalidateSyncTokens(calendarId: string): void;
  addFault(rule: FaultRule): void;
  clearFaults(): void;
  setPings(settings: Partial<PingSettings>): void;
  pingStats(): PingStats;
  setPaging(settings: PagingSettings): void;
  /** Sync-token idle expiry and the updatedMin horizon; a field set to undefined lifts that limit. */
  setLimits(limits: HistoryLimits): void;
  /** Moves the emulator clock forward (expires access tokens and channels). */
  advanceClock(ms: number): void;
  now(): number;
  reset(): void;
  /** Turns Google-like quotas on (missing fields: 600/user, 10,000/project per 60 s window, 403). */
  setQuota(settings?: Partial<QuotaSettings>): QuotaSettings;
  /** Quotas off (the default). */
  clearQuota(): void;
  /** Calls made at or after `since` (emulator clock, ms), oldest first. */
  calls(since?: number): CallRecord[];
  // ---- Google users (authorization endpoint, calendarList) ----
  /** `url + '/o/oauth2/v2/auth'`: the authorization endpoint (automatic consent). */
  authUrl: string;
  /** Creates a Google user (returns its `sub`); the first user consents unless setConsent says otherwise. */
  addUser(email: string, opts?: { sub?: string }): string;
  /** Adds a calendar (created if new) to the user's calendar list; pings its calendarList channels. */
  shareCalendar(sub: string, calendarId: string, opts?: { accessRole?: AccessRole; primary?: boolean; summary?: string }): void;
  unshareCalendar(sub: string, calendarId: string): void;
  /** Who consents next, and whether consent is denied. */
  setConsent(opts: { user?: string; deny?: boolean }): void;
  /** Revokes every refresh token the user granted; returns how many. */
  revokeUser(sub: string): number;
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const state = new EmulatorState({ now: opts.now, pings: opts.pings });
  const app = buildEmulatorApp(state, { logger: opts.logger });
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ port: opts.port ?? 0, host });
  const { port } = app.server.address() as AddressInfo;
  const url = `http://${hostForUrl(host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host)}:${port}`;
  state.baseUrl = url;

  let closed = false;
  return {
    url,
    tokenUrl: `${url}/token`,
    async close() {
      if (closed) return;
      closed = true;
      await state.pings.close();
      await app.close();
    },
    createCalendar: (id, o) => void state.store.createCalendar(id, o),
    addAccount: (t) => {
      state.auth.addAccount(t);
      return userLabel(t);
    },
    insertEvent: (cal, body) => state.store.insert(cal, body),
    insertEvents: (cal, bodies) => state.store.insertMany(cal, bodies),
    patchEvent: (cal, id, patch) => state.store.patch(cal, id, patch),
    deleteEvent: (cal, id) => state.store.delete(cal, id),
    listAllEvents: (cal, o) => listAll(state.store, cal, o),
    stats: () => state.stats(),
    channels: () => state.channels.list().map(({ messageNumber: _n, resourceUri: _u, ...c }) => c),
    flushPings: () => state.pings.flush(),
    invalidateSyncTokens: (cal) => state.store.invalidateSyncTokens(cal),
    addFault: (rule) => state.faults.add(rule),
    clearFaults: () => state.faults.clear(),
    setPings: (s) => void (state.pings.settings = { ...state.pings.settings, ...s }),
    pingStats: () => ({ ...state.pings.stats }),
    setPaging: (p) => void (state.paging = { ...p }),
    setLimits: (l) => void (state.limits = { ...state.limits, ...l }),
    advanceClock: (ms) => void (state.clockOffsetMs += ms),
    now: () => state.now(),
    reset: () => state.reset(),
    setQuota: (q = {}) => state.quota.set(q),
    clearQuota: () => state.quota.off(),
    calls: (since) => state.callLog.since(since),
    authUrl: `${url}/o/oauth2/v2/auth`,
    addUser: (email, o) => state.identity.addUser(email, o?.sub).sub,
    shareCalendar: (sub, cal, o = {}) => {
      state.store.createCalendar(cal, { summary: o.summary });
      state.identity.share(sub, cal, o);
    },
    unshareCalendar: (sub, cal) => void state.identity.unshare(sub, cal),
    setConsent: (o) => {
      if (o.user !== undefined) state.identity.consentingUser = o.user;
      if (o.deny !== undefined) state.identity.denyConsent = o.deny;
    },
    revokeUser: (sub) => state.identity.revokeUser(sub),
  };
}

export type { FaultRule } from './faults.js';
export type { PingSettings, PingStats } from './push.js';
export { DEFAULT_HISTORY_LIMITS, type HistoryLimits, type PagingSettings } from './listing.js';
export { GoogleApiError } from './errors.js';
export { busiestWindow, type CallRecord } from './call-log.js';
export { GOOGLE_QUOTA, userLabel, type QuotaSettings } from './quota.js';
