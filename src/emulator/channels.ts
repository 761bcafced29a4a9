// Push channels (events.watch / channels.stop): validation of the watch body the way Google
// validates it, and the registry pings are fanned out from.

import { GoogleApiError, errors } from './errors.js';
import type { Calendar } from './store.js';

export const DEFAULT_TTL_S = 604_800;
/** Google documents no maximum for Calendar; longer requests are capped here (see docs/emulator.md). */
export const MAX_TTL_S = 2_592_000;

export interface Channel {
  id: string;
  resourceId: string;
  resourceUri: string;
  address: string;
  token?: string;
  expiration: number;
  stopped: boolean;
  calendarId: string;
  messageNumber: number;
}

export interface WatchBody {
  id?: unknown;
  type?: unknown;
  address?: unknown;
  token?: unknown;
  expiration?: unknown;
  params?: { ttl?: unknown } | null;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export class Channels {
  private readonly byId = new Map<string, Channel>();

  constructor(private readonly now: () => number) {}

  reset(): void {
    // Stop them first: pings already queued hold a reference and must not fire after a reset.
    for (const ch of this.byId.values()) ch.stopped = true;
    this.byId.clear();
  }

  isLive(ch: Channel): boolean {
    return !ch.stopped && this.now() < ch.expiration;
  }

  liveFor(calendarId: string): Channel[] {
    return [...this.byId.values()].filter((c) => c.calendarId === calendarId && this.isLive(c));
  }

  list(): Channel[] {
    return [...this.byId.values()].map((c) => ({ ...c }));
  }

  create(cal: Calendar, body: WatchBody, baseUrl: string): Channel {
    const id = str(body.id);
    if (!id) throw errors.required('Required channel id.');
    if (id.length > 64) throw errors.invalid('Channel id must be 64 characters or fewer.');
    const type = str(body.type);
    if (type !== 'web_hook' && type !== 'webhook') throw errors.invalid(`Unknown channel type: ${type ?? '(missing)'}`);
    const address = str(body.address);
    if (!address) throw errors.required('Required channel address.');
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      throw errors.invalid(`Invalid channel address: ${address}`);
    }
    // Google requires https; the emulator also accepts http so local receivers work.
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw errors.invalid(`Invalid channel address: ${address}`);
    const token = body.token === undefined || body.token === null ? undefined : String(body.token);
    if (token !== undefined && token.length > 256) throw errors.invalid('Channel token must be 256 characters or fewer.');

    let ttl = DEFAULT_TTL_S;
    const rawTtl = body.params?.ttl;
    if (rawTtl !== undefined && rawTtl !== null) {
      ttl = Number(rawTtl);
      if (!Number.isInteger(ttl) || ttl <= 0) throw errors.invalid(`Invalid value for ttl: ${String(rawTtl)}`);
    }
    const now = this.now();
    let expiration = now + Math.min(ttl, MAX_TTL_S) * 1000;
    if (body.expiration !== undefined && body.expiration !== null) {
      const requested = Number(body.expiration);
      if (!Number.isFinite(requested)) throw errors.invalid('Invalid value for expiration.');
      // A requested expiration can shorten the channel's life, never extend it past the cap.
      if (requested > now) expiration = Math.min(expiration, requested);
    }

    const existing = this.byId.get(id);
    if (existing && this.isLive(existing)) {
      throw new GoogleApiError(400, { domain: 'global', reason: 'channelIdNotUnique', message: `Channel id ${id} not unique` });
    }
    const channel: Channel = {
      id,
      resourceId: cal.resourceId,
      resourceUri: `${baseUrl}/calendar/v3/calendars/${encodeURIComponent(cal.id)}/events?alt=json`,
      address,
      ...(token === undefined ? {} : { token }),
      expiration,
      stopped: false,
      calendarId: cal.id,
      messageNumber: 1,
    };
    this.byId.set(id, channel);
    return channel;
  }

  stop(id: unknown, resourceId: unknown): void {
    const ch = typeof id === 'string' ? this.byId.get(id) : undefined;
    if (!ch || ch.stopped || ch.resourceId !== resourceId) {
      throw new GoogleApiError(404, {
        domain: 'global', reason: 'notFound', message: `Channel '${String(id)}' not found for project 'emulator'`,
      });
    }
    ch.stopped = true;
  }
}
