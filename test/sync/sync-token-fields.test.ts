// The emulator now honours `fields` (performance guide: partial responses), so a list request
// whose mask leaves out nextSyncToken gets no token. calsync must never send such a mask: this
// records the requests calsync's syncs really send and checks that each sync ends with a token.

import t from 'tap';
import type { calendar_v3 } from 'googleapis';
import { startSyncHarness } from '../helpers/sync-harness.js';

type ListParams = calendar_v3.Params$Resource$Events$List;

t.test('every events.list calsync sends keeps nextSyncToken in the answer, full and incremental', async (t) => {
  const h = await startSyncHarness(t, 'fields-mask');
  const api = h.client();
  const sent: ListParams[] = [];
  const list = api.events.list.bind(api.events) as (p: ListParams, o?: object) => Promise<unknown>;
  api.events.list = ((params: ListParams, opts?: object) => {
    sent.push({ ...params });
    return list(params, opts);
  }) as unknown as typeof api.events.list;
  const engine = h.engine({ clientFor: () => api });

  h.seed(5);
  h.emu.setPaging({ maxPageSize: 2 });
  t.match((await engine.syncCalendar(h.calendarId)).passes, [{ mode: 'full', status: 'ok' }]);
  const afterFull = await h.token();
  t.ok(afterFull, 'the full sync ended with a token');
  h.seed(1, 10);
  t.match((await engine.syncCalendar(h.calendarId)).passes, [{ mode: 'incremental', status: 'ok' }]);
  const afterIncremental = await h.token();
  t.ok(afterIncremental);
  t.not(afterIncremental, afterFull, 'the incremental sync ended with a new token');

  t.ok(sent.length >= 4, 'several pages were requested');
  for (const params of sent) {
    const fields = (params as { fields?: string }).fields;
    t.ok(fields === undefined || fields.includes('nextSyncToken'), `no mask that drops the token (${fields ?? 'no mask'})`);
  }
  // The check above has teeth: with a mask that leaves the token out, the emulator sends none.
  const last = sent[sent.length - 1]!;
  const { data } = await api.events.list({ calendarId: last.calendarId!, singleEvents: last.singleEvents!, fields: 'items(id),nextPageToken' });
  t.notOk(data.nextSyncToken, 'a mask without nextSyncToken gets no token');
});
