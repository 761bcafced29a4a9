import t from 'tap';
import { acquireLease, continueLease, markDirty, releaseLease, renewLease } from '../../src/sync/lease.js';
import { createCalendarRow, openSyncTestDb } from '../helpers/sync-db.js';

const db = await openSyncTestDb(t, 'sync-lease');
const { Calendar } = db.models;
const LEASE_MS = 60_000;
const at = (iso: string) => new Date(iso);
const T0 = at('2026-05-01T12:00:00Z');

t.test('of 20 processes racing for a free lease, exactly one gets it', async (t) => {
  const id = await createCalendarRow(db.models, 'race@example.com');
  const other = await db.connect();
  const grants = await Promise.all(
    Array.from({ length: 20 }, (_, i) => acquireLease(i % 2 ? other.Calendar : Calendar, id, { owner: `p${i}`, leaseMs: LEASE_MS, now: T0 })),
  );
  t.equal(grants.filter(Boolean).length, 1);
  const doc = await Calendar.findById(id).lean();
  t.equal(doc?.state, 'syncing');
  t.equal(doc?.lease?.owner, `p${grants.findIndex(Boolean)}`);
});

t.test('a held lease is refused until it expires, then reclaimed', async (t) => {
  const id = await createCalendarRow(db.models, 'expiry@example.com');
  t.ok(await acquireLease(Calendar, id, { owner: 'a', leaseMs: LEASE_MS, now: T0 }));
  t.equal(await acquireLease(Calendar, id, { owner: 'b', leaseMs: LEASE_MS, now: new Date(T0.getTime() + LEASE_MS - 1) }), null);
  t.ok(await acquireLease(Calendar, id, { owner: 'b', leaseMs: LEASE_MS, now: new Date(T0.getTime() + LEASE_MS) }));
  t.notOk(await renewLease(Calendar, id, { owner: 'a', leaseMs: LEASE_MS, now: T0 }), 'the old holder learns it lost the lease');
  t.equal(await releaseLease(Calendar, id, 'a', { state: 'idle' }), 'lost');
  t.equal((await Calendar.findById(id).lean())?.lease?.owner, 'b');
});

t.test('taking the lease consumes the dirty flag and a pending full sync, and reports them', async (t) => {
  const id = await createCalendarRow(db.models, 'dirty@example.com');
  await markDirty(Calendar, id, true);
  const snap = await acquireLease(Calendar, id, { owner: 'a', leaseMs: LEASE_MS, now: T0 });
  t.equal(snap?.pendingFullSync, true);
  const doc = await Calendar.findById(id).lean();
  t.equal(doc?.dirty, false);
  t.equal(doc?.pendingFullSync, false);
});

t.test('a request during a sync keeps the lease with its holder for one more pass, however many arrive', async (t) => {
  const id = await createCalendarRow(db.models, 'coalesce@example.com');
  t.ok(await acquireLease(Calendar, id, { owner: 'a', leaseMs: LEASE_MS, now: T0 }));
  for (let i = 0; i < 5; i++) {
    await markDirty(Calendar, id, false);
    t.equal(await acquireLease(Calendar, id, { owner: `r${i}`, leaseMs: LEASE_MS, now: T0 }), null);
  }
  t.equal(await releaseLease(Calendar, id, 'a', { state: 'idle' }), 'dirty');
  t.ok(await continueLease(Calendar, id, { owner: 'a', leaseMs: LEASE_MS, now: T0 }), 'one more pass');
  t.equal(await releaseLease(Calendar, id, 'a', { state: 'idle' }), 'released', 'no request arrived during the extra pass');
  const doc = await Calendar.findById(id).lean();
  t.equal(doc?.lease, null);
  t.equal(doc?.state, 'idle');
});

t.test('a calendar needing attention is not leased unless asked explicitly', async (t) => {
  const id = await createCalendarRow(db.models, 'attention@example.com', { state: 'needs_attention' });
  t.equal(await acquireLease(Calendar, id, { owner: 'a', leaseMs: LEASE_MS, now: T0 }), null);
  t.ok(await acquireLease(Calendar, id, { owner: 'a', leaseMs: LEASE_MS, now: T0, includeNeedsAttention: true }));
});
