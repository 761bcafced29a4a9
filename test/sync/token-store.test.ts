import t from 'tap';
import { clearSyncToken, hasValidSyncToken, readSyncToken, updateSyncToken } from '../../src/sync/token-store.js';
import { createCalendarRow, openSyncTestDb } from '../helpers/sync-db.js';

const db = await openSyncTestDb(t, 'sync-token-store');
const { Calendar } = db.models;

t.test('hasValidSyncToken accepts a non-blank string only', async (t) => {
  t.ok(hasValidSyncToken('CPDAlvWDx70CEPDAlvWDx70CGAU='));
  for (const bad of ['', '   ', '\n\t', null, undefined]) t.notOk(hasValidSyncToken(bad), JSON.stringify(bad));
});

t.test('a stored token is read back with its version and singleEvents, and is never selected by default', async (t) => {
  const id = await createCalendarRow(db.models, 'store@example.com');
  t.same(await readSyncToken(Calendar, id), { token: null, version: 0, singleEvents: null });
  t.equal(await updateSyncToken(Calendar, id, '  tok-1 ', { expectedVersion: 0, singleEvents: true }), 'updated');
  t.same(await readSyncToken(Calendar, id), { token: 'tok-1', version: 1, singleEvents: true }, 'trimmed, version bumped');
  const plain = await Calendar.findById(id).lean();
  t.notOk(plain && 'syncToken' in plain, 'select: false keeps the token out of ordinary reads');
});

t.test('an empty or whitespace token is refused and the stored one kept', async (t) => {
  const id = await createCalendarRow(db.models, 'empty@example.com');
  await updateSyncToken(Calendar, id, 'good', { expectedVersion: 0, singleEvents: true });
  for (const bad of ['', '   ', null]) t.equal(await updateSyncToken(Calendar, id, bad, { expectedVersion: 1, singleEvents: true }), 'empty');
  t.same(await readSyncToken(Calendar, id), { token: 'good', version: 1, singleEvents: true });
});

t.test('the compare-and-set refuses a token from a sync that started before the last write', async (t) => {
  const id = await createCalendarRow(db.models, 'cas@example.com');
  // Two syncs read version 0; the newer one finishes first.
  const newer = await updateSyncToken(Calendar, id, 'newer', { expectedVersion: 0, singleEvents: true });
  const older = await updateSyncToken(Calendar, id, 'older', { expectedVersion: 0, singleEvents: true });
  t.equal(newer, 'updated');
  t.equal(older, 'stale');
  t.same(await readSyncToken(Calendar, id), { token: 'newer', version: 1, singleEvents: true });
});

t.test('of 20 syncs racing to store a token from the same version, exactly one wins', async (t) => {
  const id = await createCalendarRow(db.models, 'race@example.com');
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => updateSyncToken(Calendar, id, `tok-${i}`, { expectedVersion: 0, singleEvents: true })),
  );
  t.equal(results.filter((r) => r === 'updated').length, 1);
  const winner = results.indexOf('updated');
  t.same(await readSyncToken(Calendar, id), { token: `tok-${winner}`, version: 1, singleEvents: true });
});

t.test('clearing forgets the token; a guarded clear never removes a newer token', async (t) => {
  const id = await createCalendarRow(db.models, 'clear@example.com');
  await updateSyncToken(Calendar, id, 'dead', { expectedVersion: 0, singleEvents: true });
  await updateSyncToken(Calendar, id, 'fresh', { expectedVersion: 1, singleEvents: true });
  t.equal(await clearSyncToken(Calendar, id, { expectedVersion: 1 }), null, 'the dead token was already replaced');
  t.equal((await readSyncToken(Calendar, id))?.token, 'fresh');
  t.equal(await clearSyncToken(Calendar, id, { expectedVersion: 2 }), 3);
  t.same(await readSyncToken(Calendar, id), { token: null, version: 3, singleEvents: null });
  t.notOk(hasValidSyncToken((await readSyncToken(Calendar, id))?.token));
});

t.test('extra fields are written atomically with the token', async (t) => {
  const id = await createCalendarRow(db.models, 'also@example.com');
  const at = new Date('2026-03-01T10:00:00Z');
  await updateSyncToken(Calendar, id, 't', { expectedVersion: 0, singleEvents: false, alsoSet: { lastSyncedAt: at } });
  const doc = await Calendar.findById(id).lean();
  t.same(doc?.lastSyncedAt, at);
  t.equal(doc?.syncTokenSingleEvents, false);
});
