import { Types } from 'mongoose';
import type { FeedChange } from '../../src/changes/change-feed.js';
import type { Models } from '../../src/models/index.js';

/** Applies changes in order to an empty map: what a consumer that only reads the feed knows. */
export function replayFeed(changes: FeedChange[], calendarId?: string): Map<string, string> {
  const state = new Map<string, string>();
  for (const c of changes) {
    if (calendarId && c.calendarId !== calendarId) continue;
    if (c.type === 'deleted') state.delete(c.googleEventId);
    else state.set(c.googleEventId, c.etag);
  }
  return state;
}

/** The mirror's (id → etag) for one calendar. */
export async function mirrorEtags(models: Models, calendarId: string): Promise<Map<string, string>> {
  const docs = await models.Event.find({ calendarId: new Types.ObjectId(calendarId) }, { googleEventId: 1, etag: 1 }).lean();
  return new Map(docs.map((d) => [d.googleEventId, d.etag ?? '']));
}

export const sorted = (m: Map<string, string>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
