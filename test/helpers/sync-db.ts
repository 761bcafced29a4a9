import { Types, type Connection } from 'mongoose';
import { connectDatabase } from '../../src/db/connect.js';
import type { CalendarModel } from '../../src/models/calendar.js';
import { registerModels, type Models } from '../../src/models/index.js';
import { testDbUri } from './db.js';

interface Teardown {
  teardown(fn: () => Promise<void> | void): void;
}

export interface SyncTestDb {
  conn: Connection;
  /** The database's URI (for a second app instance on it). */
  uri: string;
  models: Models;
  /** A second connection to the same database, for tests that simulate another replica. */
  connect(): Promise<Models>;
}

/** A database unique to the test file, dropped and closed when the test ends. */
export async function openSyncTestDb(t: Teardown, name: string): Promise<SyncTestDb> {
  const uri = testDbUri(name);
  const conn = await connectDatabase(uri);
  const models = registerModels(conn);
  await Promise.all([models.Calendar.init(), models.Event.init()]);
  const extra: Connection[] = [];
  t.teardown(async () => {
    await Promise.all(extra.map((c) => c.close()));
    await conn.dropDatabase();
    await conn.close();
  });
  return {
    conn,
    uri,
    models,
    async connect() {
      const c = await connectDatabase(uri);
      extra.push(c);
      return registerModels(c);
    },
  };
}

/** Inserts a calendar row (idle, no token) and returns its id. */
export async function createCalendarRow(models: Models, googleCalendarId: string, fields: Record<string, unknown> = {}): Promise<string> {
  const doc = await models.Calendar.create({ accountId: new Types.ObjectId(), googleCalendarId, ...fields });
  return String(doc._id);
}

/** The Calendar model, except that `interfere` runs once just before the next updateOne (the claim's write). */
export function interfereBeforeWrite(Calendar: CalendarModel, interfere: () => Promise<unknown>): CalendarModel {
  let pending: (() => Promise<unknown>) | null = interfere;
  return new Proxy(Calendar, {
    get(target, key, receiver) {
      if (key !== 'updateOne' || !pending) return Reflect.get(target, key, receiver) as unknown;
      return async (...args: Parameters<CalendarModel['updateOne']>) => {
        const run = pending!;
        pending = null;
        await run();
        return target.updateOne(...args);
      };
    },
  });
}
