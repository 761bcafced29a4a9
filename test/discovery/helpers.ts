import type { PushHarness } from '../helpers/push-harness.js';
import { AUTH } from '../helpers/push-harness.js';
import { callback, consent, startConnect } from '../connect/helpers.js';

/** Connects the emulator's consenting user through consent (admin token, or a signed link's query). */
export async function connectUser(h: PushHarness, query?: string): Promise<string> {
  const started = await startConnect(h, query ? { query } : { headers: AUTH });
  const res = await callback(h, await consent(started.consentUrl), started.cookie);
  if (res.statusCode !== 200) throw new Error(`connect answered ${res.statusCode}: ${res.body}`);
  const acc = await h.conn.db!.collection('accounts').findOne({}, { sort: { _id: -1 } });
  return String(acc!._id);
}

/** The account's calendars as {googleCalendarId: state}. */
export async function calendarStates(h: PushHarness, accountId: string): Promise<Record<string, string>> {
  const docs = await h.models.Calendar.find({ accountId }).select({ googleCalendarId: 1, state: 1 }).lean();
  return Object.fromEntries(docs.map((d) => [d.googleCalendarId, d.state]));
}

export async function patchDiscovery(h: PushHarness, accountId: string, discovery: unknown) {
  return h.app.inject({ method: 'PATCH', url: `/admin/accounts/${accountId}`, headers: AUTH, payload: { discovery } });
}
