import type { calendar_v3 } from 'googleapis';
import { classifyGoogleError } from '../google/google-errors.js';
import { admits, type DiscoveryPolicy, type ListEntry } from './policy.js';

/** One calendar-list reading: live entries, removed ids, the token for next time. */
export interface ListReading {
  /** true: the whole list (first pass, after a policy change, after a 410); false: changes since the token. */
  full: boolean;
  /** The token we had was dead (410) and a full list replaced it. */
  tokenExpired: boolean;
  live: ListEntry[];
  deleted: string[];
  nextSyncToken: string;
  apiCalls: number;
}

/** A list of more than this many pages is refused (a loop guard, not a real limit: 250 per page). */
const MAX_PAGES = 200;

async function readPages(api: calendar_v3.Calendar, syncToken: string | null, signal: AbortSignal): Promise<Omit<ListReading, 'tokenExpired'>> {
  const reading: Omit<ListReading, 'tokenExpired'> = { full: syncToken === null, live: [], deleted: [], nextSyncToken: '', apiCalls: 0 };
  let pageToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    // A full list hides removed entries (the default); an incremental one always shows them.
    const params: calendar_v3.Params$Resource$Calendarlist$List = syncToken === null ? { maxResults: 250 } : { maxResults: 250, syncToken };
    if (pageToken) params.pageToken = pageToken;
    reading.apiCalls++;
    const { data } = await api.calendarList.list(params, { signal });
    for (const item of data.items ?? []) {
      if (!item.id) continue;
      if (item.deleted) reading.deleted.push(item.id);
      else reading.live.push({ id: item.id, accessRole: item.accessRole ?? null, primary: item.primary === true });
    }
    if (data.nextPageToken) {
      pageToken = data.nextPageToken;
      continue;
    }
    if (!data.nextSyncToken) throw new Error('calendarList.list ended without a nextSyncToken');
    reading.nextSyncToken = data.nextSyncToken;
    return reading;
  }
  throw new Error(`calendarList.list returned more than ${MAX_PAGES} pages`);
}

/**
 * Reads the account's calendar list: the changes since `syncToken`, or the whole list when there is
 * none or Google declared it dead (410 `fullSyncRequired`), as Google's sync guide says.
 */
export async function readCalendarList(api: calendar_v3.Calendar, syncToken: string | null, signal: AbortSignal): Promise<ListReading> {
  if (syncToken === null) return { ...(await readPages(api, null, signal)), tokenExpired: false };
  try {
    return { ...(await readPages(api, syncToken, signal)), tokenExpired: false };
  } catch (err) {
    if (classifyGoogleError(err, { syncTokenInUse: true }).kind !== 'dead_token') throw err;
    const full = await readPages(api, null, signal);
    return { ...full, apiCalls: full.apiCalls + 1, tokenExpired: true };
  }
}

/**
 * What a reading means under a policy: the Google calendar ids to admit, and those to drop. On a
 * full reading every discovered calendar not admitted now is dropped (`known`: the account's
 * discovered, unretired calendars); on an incremental one only the entries that changed are judged.
 */
export function decide(policy: DiscoveryPolicy, reading: ListReading, known: string[]): { admit: string[]; drop: string[] } {
  const admit = reading.live.filter((e) => admits(policy, e)).map((e) => e.id);
  const admitted = new Set(admit);
  const drop = new Set<string>([...reading.deleted, ...reading.live.filter((e) => !admitted.has(e.id)).map((e) => e.id)]);
  if (reading.full) for (const id of known) if (!admitted.has(id)) drop.add(id);
  for (const id of admitted) drop.delete(id);
  return { admit, drop: [...drop] };
}
