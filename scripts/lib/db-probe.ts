// Capability probe: what a MongoDB-compatible server really guarantees, measured through
// mongoose the way the application uses it. Used by test/db-capabilities.test.ts (against the
// test database) and scripts/probe-databases.ts (against every candidate, side by side).
import { randomBytes } from 'node:crypto';
import mongoose, { Schema, type Connection } from 'mongoose';

export interface ProbeRow {
  capability: string;
  ok: boolean;
  detail: string;
}

/** Capabilities the test database must have; the others are recorded for information. */
export const REQUIRED_CAPABILITIES = [
  'connect',
  'CRUD',
  'unique index (E11000)',
  'upsert returns new doc',
  'atomic CAS: updateOne',
  'atomic CAS: findOneAndUpdate',
] as const;

const RACERS = 20;
const ROUNDS = 20;
const STEP_TIMEOUT_MS = 15_000;

class ProbeFailure extends Error {}

function check(condition: boolean, detail: string): void {
  if (!condition) throw new ProbeFailure(detail);
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ProbeFailure(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(err: unknown): string {
  if (err instanceof ProbeFailure) return err.message;
  const e = err as { code?: unknown; codeName?: unknown; message?: unknown };
  const code = e.code === undefined ? '' : ` (code ${String(e.code)}${e.codeName ? ` ${String(e.codeName)}` : ''})`;
  return `${String(e.message ?? err).split('\n')[0]}${code}`.slice(0, 200);
}

interface Counter {
  _id: string;
  version: number;
}

/**
 * 20 racers try to move one document from version v to v+1 at the same moment, 20 rounds.
 * An atomic server lets exactly one win each round; a read-then-write server lets several.
 */
async function raceCompareAndSet(
  conn: Connection,
  attempt: (id: string, v: number) => Promise<boolean>,
): Promise<string> {
  const Counters = conn.model<Counter>('ProbeCounter');
  const id = `cas-${randomBytes(4).toString('hex')}`;
  await Counters.create({ _id: id, version: 0 });
  const badRounds: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const v = round;
    const wins = (await Promise.all(Array.from({ length: RACERS }, () => attempt(id, v)))).filter(Boolean).length;
    const after = await Counters.findById(id).lean();
    if (wins !== 1 || after?.version !== v + 1) {
      badRounds.push(`round ${round}: ${wins} winners, version ${String(after?.version)}`);
      // Re-align so the next round starts from a known version.
      await Counters.updateOne({ _id: id }, { $set: { version: v + 1 } });
    }
  }
  check(badRounds.length === 0, `${badRounds.length}/${ROUNDS} rounds broken; ${badRounds.slice(0, 3).join('; ')}`);
  return `${ROUNDS} rounds × ${RACERS} racers: exactly one winner each round`;
}

function defineModels(conn: Connection): void {
  conn.model('ProbeThing', new Schema({ key: { type: String, unique: true }, n: Number }, { autoIndex: false }));
  conn.model('ProbeCounter', new Schema({ _id: String, version: Number }, { versionKey: false }));
  conn.model('ProbeUpsert', new Schema({ key: String, n: Number }, { versionKey: false }));
  conn.model('ProbeTtl', new Schema({ at: Date }));
  conn.model('ProbePartial', new Schema({ key: String, active: Boolean }, { autoIndex: false }));
  conn.model('ProbeTx', new Schema({ key: String }));
}

type Step = [capability: string, run: (conn: Connection) => Promise<string>];

const steps: Step[] = [
  [
    'CRUD',
    async (conn) => {
      const Things = conn.model('ProbeThing');
      const doc = await Things.create({ key: 'a', n: 1 });
      check((await Things.findById(doc._id).lean<{ n: number }>())?.n === 1, 'read back after insert failed');
      const upd = await Things.updateOne({ _id: doc._id }, { $inc: { n: 1 } });
      check(upd.modifiedCount === 1, `updateOne modifiedCount ${upd.modifiedCount}`);
      check((await Things.findById(doc._id).lean<{ n: number }>())?.n === 2, 'update not visible');
      const del = await Things.deleteOne({ _id: doc._id });
      check(del.deletedCount === 1, `deleteOne deletedCount ${del.deletedCount}`);
      check((await Things.countDocuments()) === 0, 'document still there after delete');
      return 'insert, find, update, delete, count';
    },
  ],
  [
    'unique index (E11000)',
    async (conn) => {
      const Things = conn.model('ProbeThing');
      await Things.createIndexes();
      await Things.create({ key: 'dup', n: 1 });
      try {
        await Things.create({ key: 'dup', n: 2 });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        check(code === 11000, `duplicate rejected with code ${String(code)}, not 11000`);
        return 'second insert rejected with code 11000';
      }
      throw new ProbeFailure('duplicate insert was accepted');
    },
  ],
  [
    'upsert returns new doc',
    async (conn) => {
      const Upserts = conn.model('ProbeUpsert');
      const doc = await Upserts.findOneAndUpdate(
        { key: 'k' },
        { $set: { n: 7 } },
        { upsert: true, returnDocument: 'after' },
      ).lean<{ key: string; n: number }>();
      check(doc?.key === 'k' && doc.n === 7, `got ${JSON.stringify(doc)}`);
      return "findOneAndUpdate upsert + returnDocument 'after' returned the inserted doc";
    },
  ],
  [
    'TTL index accepted',
    async (conn) => {
      await conn.model('ProbeTtl').collection.createIndex({ at: 1 }, { expireAfterSeconds: 60 });
      const idx = (await conn.model('ProbeTtl').collection.indexes()).find((i) => i.key.at === 1);
      check(idx?.expireAfterSeconds === 60, `index listed as ${JSON.stringify(idx)}`);
      return 'createIndex with expireAfterSeconds listed back (expiry itself not waited for)';
    },
  ],
  [
    'partial unique index',
    async (conn) => {
      const Partial = conn.model('ProbePartial');
      await Partial.collection.createIndex(
        { key: 1 },
        { unique: true, partialFilterExpression: { active: true } },
      );
      await Partial.create([{ key: 'p', active: false }, { key: 'p', active: false }, { key: 'p', active: true }]);
      try {
        await Partial.create({ key: 'p', active: true });
      } catch (err) {
        check((err as { code?: unknown }).code === 11000, describe(err));
        return 'unique only where the filter matches';
      }
      throw new ProbeFailure('second active duplicate was accepted');
    },
  ],
  [
    'atomic CAS: updateOne',
    (conn) =>
      raceCompareAndSet(conn, async (id, v) => {
        const r = await conn.model<Counter>('ProbeCounter').updateOne({ _id: id, version: v }, { $inc: { version: 1 } });
        return r.modifiedCount === 1;
      }),
  ],
  [
    'atomic CAS: findOneAndUpdate',
    (conn) =>
      raceCompareAndSet(conn, async (id, v) => {
        const doc = await conn
          .model<Counter>('ProbeCounter')
          .findOneAndUpdate({ _id: id, version: v }, { $inc: { version: 1 } }, { returnDocument: 'after' })
          .lean();
        return doc !== null;
      }),
  ],
  [
    'transaction',
    async (conn) => {
      const Tx = conn.model('ProbeTx');
      await Tx.createCollection(); // collections cannot be created inside a transaction on MongoDB 6
      await conn.transaction(async (session) => {
        await Tx.create([{ key: 'commit' }], { session });
      });
      check((await Tx.countDocuments({ key: 'commit' })) === 1, 'committed write not visible');
      const aborted = conn.transaction(async (session) => {
        await Tx.create([{ key: 'abort' }], { session });
        throw new Error('abort on purpose');
      });
      await aborted.catch(() => undefined);
      check((await Tx.countDocuments({ key: 'abort' })) === 0, 'aborted write is visible');
      return 'commit visible, abort rolled back';
    },
  ],
];

/**
 * Probes the server at uri in a fresh database (dropped afterwards). Never throws: every
 * capability becomes a row, failed or not.
 */
export async function probeCapabilities(uri: string): Promise<ProbeRow[]> {
  const dbName = `capprobe_${randomBytes(4).toString('hex')}`;
  // A pool big enough that the 20 racers really run concurrently, on their own connections.
  const conn = mongoose.createConnection(uri, {
    dbName,
    maxPoolSize: RACERS + 5,
    minPoolSize: RACERS,
    serverSelectionTimeoutMS: 5000,
    autoIndex: false,
    autoCreate: false,
  });
  const rows: ProbeRow[] = [];
  try {
    try {
      await withTimeout(conn.asPromise(), STEP_TIMEOUT_MS);
      const hello = await conn.db!.admin().command({ hello: 1 });
      const build = await conn.db!.admin().command({ buildInfo: 1 }).catch(() => ({ version: '?' }));
      const topology = hello.setName ? `replica set "${String(hello.setName)}"` : 'standalone';
      rows.push({
        capability: 'connect',
        ok: true,
        detail: `buildInfo ${String(build.version)}, wire ${String(hello.maxWireVersion)}, ${topology}`,
      });
    } catch (err) {
      rows.push({ capability: 'connect', ok: false, detail: describe(err) });
      for (const [capability] of steps) rows.push({ capability, ok: false, detail: 'not run: no connection' });
      return rows;
    }
    defineModels(conn);
    // Open the racers' connections up front so they do not queue behind connection set-up.
    await Promise.all(Array.from({ length: RACERS }, () => conn.db!.admin().command({ ping: 1 })));
    for (const [capability, run] of steps) {
      try {
        rows.push({ capability, ok: true, detail: await withTimeout(run(conn), STEP_TIMEOUT_MS) });
      } catch (err) {
        rows.push({ capability, ok: false, detail: describe(err) });
      }
    }
    return rows;
  } finally {
    await conn.db?.dropDatabase().catch(() => undefined);
    await conn.close(true).catch(() => undefined);
  }
}

/** Renders probe rows as a markdown table. */
export function formatProbeTable(rows: ProbeRow[]): string {
  const lines = ['| capability | ok | detail |', '| --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${r.capability} | ${r.ok ? 'yes' : '**NO**'} | ${r.detail.replaceAll('|', '\\|')} |`);
  return lines.join('\n');
}
