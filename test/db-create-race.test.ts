import t from 'tap';
import { connectDatabase } from '../src/db/connect.js';
import { testDbUri } from './helpers/db.js';

// SecantusDB 0.7.0b3 deadlocked when an explicit create of a collection (mongoose creates each
// model's collection in the background) met an insert creating the same collection: the whole
// server stopped answering. scripts/lib/secantusdb.ts starts it with the lock order corrected.
t.test('an explicit create racing an insert into the same new collection never hangs the database', async (t) => {
  const conn = await connectDatabase(testDbUri('db-create-race'));
  t.teardown(async () => {
    await conn.dropDatabase().catch(() => undefined);
    await conn.close(true);
  });
  const ROUNDS = 40;
  let hung = false;
  for (let i = 0; i < ROUNDS && !hung; i++) {
    const name = `race_${i}`;
    const race = Promise.all([conn.db!.createCollection(name).catch(() => undefined), conn.db!.collection(name).insertOne({ i })]);
    const timer = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 10_000).unref());
    hung = (await Promise.race([race, timer])) === 'hung';
    t.notOk(hung, `round ${i}: both answered`, { diagnostic: hung });
  }
  if (!hung) t.equal(await conn.db!.collection(`race_${ROUNDS - 1}`).countDocuments(), 1);
});
