import t from 'tap';
import { failure, setup, timed } from './fixtures/harness.js';

const CAL = 'team@example.com';

t.test('insert returns a complete Google-shaped event', async (t) => {
  const { cal } = await setup(t);
  const { data, status } = await cal.events.insert({ calendarId: CAL, requestBody: { ...timed('kickoff'), location: 'Room 1' } });
  t.equal(status, 200);
  t.match(data, {
    kind: 'calendar#event', status: 'confirmed', summary: 'kickoff', location: 'Room 1', sequence: 0,
    creator: { email: CAL, self: true }, organizer: { email: CAL, self: true },
    start: { dateTime: '2030-01-01T00:00:00Z' }, end: { dateTime: '2030-01-01T01:00:00Z' },
    reminders: { useDefault: true }, eventType: 'default',
  });
  t.match(data.id, /^[a-v0-9]{26}$/);
  t.match(data.etag, /^"\d{16,}"$/);
  t.equal(data.created, data.updated);
  t.match(data.updated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const got = await cal.events.get({ calendarId: CAL, eventId: data.id! });
  t.same(got.data, data, 'get returns what insert returned');
});

t.test('patch changes etag and updated, keeps created, merges fields', async (t) => {
  let now = Date.UTC(2029, 5, 1);
  const { cal } = await setup(t, { now: () => now });
  const { data: before } = await cal.events.insert({ calendarId: CAL, requestBody: { ...timed('a'), description: 'keep me' } });
  now += 1500;
  const { data: after } = await cal.events.patch({ calendarId: CAL, eventId: before.id!, requestBody: { summary: 'b' } });
  t.not(after.etag, before.etag);
  t.not(after.updated, before.updated);
  t.equal(after.created, before.created);
  t.equal(after.summary, 'b');
  t.equal(after.description, 'keep me', 'unpatched fields survive');
  t.equal(after.sequence, 0, 'a summary change does not bump sequence');
  now += 1500;
  const { data: moved } = await cal.events.patch({ calendarId: CAL, eventId: before.id!, requestBody: timed('b', 5) });
  t.equal(moved.sequence, 1, 'a time change bumps sequence');
});

t.test('update replaces the event and requires start and end', async (t) => {
  const { cal } = await setup(t);
  const { data } = await cal.events.insert({ calendarId: CAL, requestBody: { ...timed('a'), description: 'gone after update' } });
  const { data: replaced } = await cal.events.update({ calendarId: CAL, eventId: data.id!, requestBody: timed('replaced', 2) });
  t.equal(replaced.summary, 'replaced');
  t.notOk(replaced.description);
  t.equal(replaced.id, data.id);
  const res = await failure(cal.events.update({ calendarId: CAL, eventId: data.id!, requestBody: { summary: 'no times' } }));
  t.equal(res.status, 400);
  t.equal(res.body.error.errors[0].reason, 'required');
});

t.test('insert without an end is rejected with 400 required', async (t) => {
  const { cal } = await setup(t);
  const res = await failure(cal.events.insert({ calendarId: CAL, requestBody: { summary: 'x', start: { dateTime: '2030-01-01T00:00:00Z' } } }));
  t.equal(res.status, 400);
  t.same(res.body.error.errors[0], { domain: 'global', reason: 'required', message: 'Missing end time.' });
  t.equal(res.body.error.code, 400);
});

t.test('an end before the start is rejected with 400 timeRangeEmpty', async (t) => {
  const { cal } = await setup(t);
  const res = await failure(cal.events.insert({ calendarId: CAL, requestBody: { start: { dateTime: '2030-01-02T00:00:00Z' }, end: { dateTime: '2030-01-01T00:00:00Z' } } }));
  t.equal(res.status, 400);
  t.equal(res.body.error.errors[0].reason, 'timeRangeEmpty');
  const mixed = await failure(cal.events.insert({ calendarId: CAL, requestBody: { start: { date: '2030-01-01' }, end: { dateTime: '2030-01-01T05:00:00Z' } } }));
  t.equal(mixed.status, 400);
});

t.test('client-chosen ids must be base32hex and unique, even after deletion', async (t) => {
  const { cal } = await setup(t);
  const bad = await failure(cal.events.insert({ calendarId: CAL, requestBody: { ...timed('x'), id: 'Not_Valid!' } }));
  t.equal(bad.status, 400);
  const { data } = await cal.events.insert({ calendarId: CAL, requestBody: { ...timed('x'), id: 'abc123def456' } });
  t.equal(data.id, 'abc123def456');
  await cal.events.delete({ calendarId: CAL, eventId: 'abc123def456' });
  const dup = await failure(cal.events.insert({ calendarId: CAL, requestBody: { ...timed('x'), id: 'abc123def456' } }));
  t.equal(dup.status, 409);
  t.equal(dup.body.error.errors[0].reason, 'duplicate');
});

t.test('delete answers 204, deleting again 410 deleted, an unknown id 404 notFound', async (t) => {
  const { cal } = await setup(t);
  const { data } = await cal.events.insert({ calendarId: CAL, requestBody: timed('x') });
  const del = await cal.events.delete({ calendarId: CAL, eventId: data.id! });
  t.equal(del.status, 204);
  const again = await failure(cal.events.delete({ calendarId: CAL, eventId: data.id! }));
  t.equal(again.status, 410);
  t.equal(again.body.error.errors[0].reason, 'deleted');
  const unknown = await failure(cal.events.delete({ calendarId: CAL, eventId: 'doesnotexist0' }));
  t.equal(unknown.status, 404);
  t.equal(unknown.body.error.errors[0].reason, 'notFound');
  const got = await cal.events.get({ calendarId: CAL, eventId: data.id! });
  t.equal(got.data.status, 'cancelled', 'a deleted event can still be fetched, as cancelled');
});

t.test('all-day events round-trip their dates', async (t) => {
  const { cal } = await setup(t);
  const { data } = await cal.events.insert({ calendarId: CAL, requestBody: { summary: 'holiday', start: { date: '2030-07-01' }, end: { date: '2030-07-03' } } });
  t.same(data.start, { date: '2030-07-01' });
  t.same(data.end, { date: '2030-07-03' });
  const { data: list } = await cal.events.list({ calendarId: CAL, timeMin: '2030-07-02T12:00:00Z', timeMax: '2030-07-02T13:00:00Z' });
  t.same(list.items!.map((e) => e.id), [data.id]);
});

t.test('a malformed JSON body gets a Google-shaped 400', async (t) => {
  const { emu, auth } = await setup(t);
  const token = (await auth.getAccessToken()).token!;
  const res = await fetch(`${emu.url}/calendar/v3/calendars/${encodeURIComponent(CAL)}/events`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{nope',
  });
  t.equal(res.status, 400);
  const body = (await res.json()) as { error: { errors: Array<{ reason: string }> } };
  t.equal(body.error.errors[0]!.reason, 'parseError');
});
