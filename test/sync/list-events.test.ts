import t from 'tap';
import type { calendar_v3 } from 'googleapis';
import { GoogleApiError } from '../../src/google/google-errors.js';
import { listEventsIncremental, type EventsPage } from '../../src/google/list-events.js';

type Params = calendar_v3.Params$Resource$Events$List;
type Reply = { data: calendar_v3.Schema$Events } | { status: number; reason: string };

/** A recording stand-in for calendar_v3.Calendar that answers from a script of replies. */
function stubApi(replies: Reply[]) {
  const calls: Params[] = [];
  const api = {
    events: {
      list: async (params: Params) => {
        calls.push({ ...params });
        const reply = replies.shift();
        if (!reply) throw new Error('unexpected call');
        if ('status' in reply) {
          throw Object.assign(new Error(reply.reason), {
            status: reply.status,
            response: { status: reply.status, data: { error: { code: reply.status, errors: [{ reason: reply.reason }] } }, headers: new Headers() },
          });
        }
        return reply;
      },
    },
  } as unknown as calendar_v3.Calendar;
  return { api, calls };
}

const ev = (id: string, status = 'confirmed'): calendar_v3.Schema$Event => ({ id, status, etag: `"${id}"` });

t.test('a full sync asks for the window with maxResults 2500, the configured singleEvents and no orderBy', async (t) => {
  const { api, calls } = stubApi([{ data: { items: [ev('a')], nextSyncToken: 'tok-1' } }]);
  const timeMin = new Date('2026-01-01T00:00:00Z');
  const timeMax = new Date('2026-04-01T00:00:00Z');
  const res = await listEventsIncremental(api, 'cal', { timeMin, timeMax, singleEvents: true }, async () => undefined);
  t.same(calls, [{ calendarId: 'cal', timeMin: timeMin.toISOString(), timeMax: timeMax.toISOString(), singleEvents: true, maxResults: 2500 }]);
  t.same(res, { nextSyncToken: 'tok-1', isFullSync: true, totalEvents: 1, apiCalls: 1, pages: 1 });
});

t.test('an incremental sync sends the token and nothing that narrows the query, even if a window is given', async (t) => {
  const { api, calls } = stubApi([{ data: { items: [ev('a'), ev('b', 'cancelled')], nextSyncToken: 'tok-2' } }]);
  const res = await listEventsIncremental(
    api,
    'cal',
    { syncToken: 'tok-1', timeMin: new Date(), timeMax: new Date(), singleEvents: true },
    async () => undefined,
  );
  t.same(calls, [{ calendarId: 'cal', syncToken: 'tok-1', singleEvents: true, maxResults: 2500 }]);
  for (const forbidden of ['timeMin', 'timeMax', 'orderBy', 'q', 'updatedMin', 'iCalUID', 'showDeleted']) t.notOk(forbidden in calls[0]!, forbidden);
  t.equal(res.isFullSync, false);
  t.equal(res.nextSyncToken, 'tok-2');
});

t.test('pages are handed over one at a time, each before the next is fetched, repeating the query with the page token', async (t) => {
  const { api, calls } = stubApi([
    { data: { items: [ev('a'), ev('b')], nextPageToken: 'p2' } },
    { data: { items: [], nextPageToken: 'p3' } },
    { data: { items: [ev('c')], nextSyncToken: 'tok-9' } },
  ]);
  const seen: Array<{ page: number; ids: string[]; callsSoFar: number }> = [];
  const res = await listEventsIncremental(api, 'cal', { syncToken: 'tok-1', singleEvents: false }, async (page: EventsPage) => {
    seen.push({ page: page.pageNumber, ids: page.items.map((i) => i.id!), callsSoFar: calls.length });
  });
  t.same(seen, [
    { page: 1, ids: ['a', 'b'], callsSoFar: 1 },
    { page: 2, ids: [], callsSoFar: 2 },
    { page: 3, ids: ['c'], callsSoFar: 3 },
  ]);
  t.same(calls.map((c) => c.pageToken), [undefined, 'p2', 'p3']);
  t.ok(calls.every((c) => c.syncToken === 'tok-1' && c.singleEvents === false));
  t.same(res, { nextSyncToken: 'tok-9', isFullSync: false, totalEvents: 3, apiCalls: 3, pages: 3 });
});

t.test('a 410 surfaces as a classified dead-token error, not a silent fallback', async (t) => {
  const { api } = stubApi([{ status: 410, reason: 'fullSyncRequired' }]);
  const err = await listEventsIncremental(api, 'cal', { syncToken: 'old', singleEvents: true }, async () => undefined).catch((e) => e);
  t.ok(err instanceof GoogleApiError);
  t.equal(err.kind, 'dead_token');
  t.equal(err.status, 410);
});

t.test('the call wrapper sees each page request, so a failed page is retried alone', async (t) => {
  const { api, calls } = stubApi([
    { data: { items: [ev('a')], nextPageToken: 'p2' } },
    { status: 503, reason: 'backendError' },
    { data: { items: [ev('b')], nextSyncToken: 'tok' } },
  ]);
  let apiCalls = 0;
  const retrying = async <T>(request: () => Promise<T>): Promise<T> => {
    try {
      return await request();
    } catch (err) {
      if (err instanceof GoogleApiError && err.kind === 'transient') return request();
      throw err;
    }
  };
  const res = await listEventsIncremental(api, 'cal', { syncToken: 's', singleEvents: true }, async () => undefined, {
    call: retrying,
    onApiCall: () => void apiCalls++,
  });
  t.same(calls.map((c) => c.pageToken), [undefined, 'p2', 'p2']);
  t.equal(res.apiCalls, 3);
  t.equal(apiCalls, 3);
  t.equal(res.totalEvents, 2);
});
