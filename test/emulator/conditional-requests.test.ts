// Conditional requests, from the version-resources guide: a get with If-None-Match naming the
// current etag answers 304 Not Modified; a write (update, patch, delete) with If-Match naming
// a stale etag answers 412 Precondition Failed and changes nothing.

import t from 'tap';
import { failure, setup, timed } from './fixtures/harness.js';

const CAL = 'team@example.com';

t.test('If-None-Match with the current etag answers 304; a stale one gets the event', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  const ev = emu.insertEvent(CAL, timed('x'));
  // googleapis treats 304 as a success (its validateStatus accepts it for exactly this use).
  const notModified = await cal.events.get({ calendarId: CAL, eventId: ev.id! }, { headers: { 'If-None-Match': ev.etag! } });
  t.equal(notModified.status, 304);
  t.notOk(notModified.data, 'no body');
  const changed = emu.patchEvent(CAL, ev.id!, { summary: 'y' });
  const { status, data } = await cal.events.get({ calendarId: CAL, eventId: ev.id! }, { headers: { 'If-None-Match': ev.etag! } });
  t.equal(status, 200);
  t.equal(data.etag, changed.etag);
  t.equal(data.summary, 'y');
});

t.test('a patch, update or delete with a stale If-Match answers 412 conditionNotMet and changes nothing', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  const ev = emu.insertEvent(CAL, timed('original'));
  const stale = ev.etag!;
  const current = emu.patchEvent(CAL, ev.id!, { summary: 'edited elsewhere' });
  const headers = { 'If-Match': stale };
  const attempts = [
    cal.events.patch({ calendarId: CAL, eventId: ev.id!, requestBody: { summary: 'mine' } }, { headers }),
    cal.events.update({ calendarId: CAL, eventId: ev.id!, requestBody: timed('mine') }, { headers }),
    cal.events.delete({ calendarId: CAL, eventId: ev.id! }, { headers }),
  ];
  for (const attempt of attempts) {
    const res = await failure(attempt);
    t.equal(res.status, 412);
    t.same(res.body.error.errors, [{ domain: 'global', reason: 'conditionNotMet', message: 'Precondition Failed', locationType: 'header', location: 'If-Match' }]);
  }
  const after = (await cal.events.get({ calendarId: CAL, eventId: ev.id! })).data;
  t.equal(after.etag, current.etag, 'no write was applied');
  t.equal(after.status, 'confirmed');
  t.equal(after.summary, 'edited elsewhere');
});

t.test('a write whose If-Match names the current etag is applied', async (t) => {
  const { emu, calNoRetry: cal } = await setup(t);
  const ev = emu.insertEvent(CAL, timed('original'));
  const patched = await cal.events.patch({ calendarId: CAL, eventId: ev.id!, requestBody: { summary: 'mine' } }, { headers: { 'If-Match': ev.etag! } });
  t.equal(patched.data.summary, 'mine');
  const del = await cal.events.delete({ calendarId: CAL, eventId: ev.id! }, { headers: { 'If-Match': patched.data.etag! } });
  t.equal(del.status, 204);
});
