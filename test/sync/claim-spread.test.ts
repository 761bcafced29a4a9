import t from 'tap';
import { spreadWithinPriority } from '../../src/sync/claim-order.js';
import { QuotaDeferrals } from '../../src/sync/quota-deferrals.js';

const c = (id: string, priority: number) => ({ id, priority, accountId: 'a' });

t.test('replicas start at different points of a class; classes keep their order', async (t) => {
  const due = [c('p1', 0), c('p2', 0), c('s1', 3), c('s2', 3), c('s3', 3), c('s4', 3)];
  const ids = (random: number) => spreadWithinPriority(due, () => random).map((x) => x.id);
  t.same(ids(0), ['p1', 'p2', 's1', 's2', 's3', 's4'], 'offset 0: the read order');
  t.same(ids(0.5), ['p2', 'p1', 's3', 's4', 's1', 's2'], 'offset half way, wrapping, within each class');
  t.same(ids(0.99), ['p2', 'p1', 's4', 's1', 's2', 's3'], 'the last offset');
  for (const r of [0, 0.3, 0.5, 0.99]) {
    const order = ids(r);
    t.same([...order].sort(), [...due.map((x) => x.id)].sort(), 'every candidate once');
    t.ok(order.indexOf('p1') < 2 && order.indexOf('p2') < 2, 'pings before the safety net');
  }
  t.same(spreadWithinPriority([], () => 0.5), [], 'nothing due');
});

t.test('an account out of quota for a class is spent for that class and less urgent ones, until then', async (t) => {
  const memo = new QuotaDeferrals();
  const now = new Date('2026-11-29T12:00:00Z');
  const until = new Date(now.getTime() + 5_000);
  memo.note('a', 2, until);
  t.same(memo.blockedUntil('a', 2, now), until, 'the class itself');
  t.same(memo.blockedUntil('a', 3, now), until, 'a less urgent class');
  t.equal(memo.blockedUntil('a', 0, now), null, 'a more urgent class has a larger share');
  t.equal(memo.blockedUntil('b', 3, now), null, 'another account');
  t.equal(memo.blockedUntil('a', 3, until), null, 'over once the time comes');
  t.equal(memo.blockedUntil('a', 3, now), null, 'and forgotten');
  memo.note('a', 3, until);
  memo.note('a', 3, new Date(now.getTime() + 1_000));
  t.same(memo.blockedUntil('a', 3, now), until, 'an earlier time never shortens a later one');
});
