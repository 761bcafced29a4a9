// The baseline calsync replaces: the seed's polling full sync (SEED-DESIGN.md,
// `list_events_incremental` without a token), transcribed to googleapis. Every poll re-lists the
// whole window with maxResults 250 and orderBy startTime (which also means Google sends no sync
// token), and every page is accumulated in one array before anything is stored.
import type { calendar_v3 } from 'googleapis';
import type { Types } from 'mongoose';
import type { EventModel } from '../../src/models/event.js';
import { storePage } from '../../src/sync/mirror-writer.js';

const DAY_MS = 86_400_000;

export interface SeedListing {
  events: calendar_v3.Schema$Event[];
  calls: number;
  nextSyncToken: string | null;
}

/** All pages of the −30 d … +90 d window, held in memory (the seed's `all_events`). */
export async function seedListAll(api: calendar_v3.Calendar, calendarId: string, now = new Date()): Promise<SeedListing> {
  const params: calendar_v3.Params$Resource$Events$List = {
    calendarId,
    timeMin: new Date(now.getTime() - 30 * DAY_MS).toISOString(),
    timeMax: new Date(now.getTime() + 90 * DAY_MS).toISOString(),
    maxResults: 250,
    singleEvents: true,
    orderBy: 'startTime',
  };
  const events: calendar_v3.Schema$Event[] = [];
  let calls = 0;
  let pageToken: string | undefined;
  for (;;) {
    const res = await api.events.list(pageToken ? { ...params, pageToken } : params);
    calls++;
    events.push(...(res.data.items ?? []));
    pageToken = res.data.nextPageToken ?? undefined;
    if (!pageToken) return { events, calls, nextSyncToken: res.data.nextSyncToken ?? null };
  }
}

/**
 * The seed's `_process_full_sync_events`: one bulk write of everything listed. Uses calsync's own
 * document shape (storePage) so that the memory comparison isolates "accumulate, then write" from
 * "write page by page".
 */
export async function seedStoreAll(Event: EventModel, calendarId: Types.ObjectId, events: calendar_v3.Schema$Event[]): Promise<number> {
  const stored = await storePage(Event, calendarId, events, { now: new Date(), epoch: 0 });
  return stored.upserted + stored.removed;
}
