import type { calendar_v3 } from 'googleapis';
import type { Test } from 'tap';
import { Types } from 'mongoose';
import type { Config } from '../../src/config/env.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createCalendarClient } from '../../src/google/calendar-client.js';
import type { Models } from '../../src/models/index.js';
import { SyncEngine, type SyncEngineOptions } from '../../src/sync/engine.js';
import type { SyncOutcome } from '../../src/sync/outcome.js';
import { readSyncToken } from '../../src/sync/token-store.js';
import { testConfig } from './config.js';
import { createCalendarRow, openSyncTestDb, type SyncTestDb } from './sync-db.js';

type TestLike = Pick<Test, 'teardown' | 'same'>;

export const REFRESH_TOKEN = 'rt-sync-tests';
const DAY_MS = 86_400_000;

/** Sync settings for tests: real semantics, millisecond backoff. */
export function testSyncConfig(env: Record<string, string> = {}): Config['sync'] {
  return testConfig({ SYNC_MAX_RETRIES: '3', SYNC_BACKOFF_BASE_MS: '1', SYNC_BACKOFF_MAX_MS: '5', ...env }).sync;
}

/** An event well inside the default sync window (now − 30 d … now + 90 d), so full and incremental views agree. */
export function eventBody(i: number, summary = `event ${i}`): Partial<calendar_v3.Schema$Event> {
  const start = new Date(Date.now() + DAY_MS + (i % 60) * DAY_MS + (i % 24) * 3_600_000);
  return { summary, start: { dateTime: start.toISOString() }, end: { dateTime: new Date(start.getTime() + 3_600_000).toISOString() } };
}

export interface SyncHarness {
  emu: Emulator;
  db: SyncTestDb;
  models: Models;
  /** Google's id of the test calendar. */
  gcalId: string;
  /** calsync's id (Calendar document) of the test calendar. */
  calendarId: string;
  outcomes: SyncOutcome[];
  /** An engine polling every 100 ms; `start` makes it claim due work in the background as a replica does. */
  engine(overrides?: Partial<SyncEngineOptions>, opts?: { start?: boolean }): SyncEngine;
  /** A Calendar API client as the engine builds it. */
  client(refreshToken?: string): calendar_v3.Calendar;
  calendar(): Promise<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  token(): Promise<string | null>;
  /** The mirror equals the emulator: same ids, same etags, nothing extra. */
  assertMirrorExact(t: TestLike, message?: string): Promise<void>;
  seed(n: number, from?: number): calendar_v3.Schema$Event[];
}

export async function startSyncHarness(t: TestLike, name: string, syncEnv: Record<string, string> = {}): Promise<SyncHarness> {
  const emu = await startEmulator();
  t.teardown(() => emu.close());
  emu.addAccount(REFRESH_TOKEN);
  const gcalId = `${name}@group.calendar.google.com`;
  emu.createCalendar(gcalId);
  const db = await openSyncTestDb(t, name);
  const calendarId = await createCalendarRow(db.models, gcalId);
  const sync = testSyncConfig(syncEnv);
  const outcomes: SyncOutcome[] = [];
  const engines: SyncEngine[] = [];
  t.teardown(() => Promise.all(engines.map((e) => e.close())).then(() => undefined));

  const client = (refreshToken = REFRESH_TOKEN) =>
    createCalendarClient({ apiRootUrl: emu.url, oauthTokenUrl: emu.tokenUrl, clientId: 'test-client', clientSecret: 'test-secret', refreshToken });

  return {
    emu,
    db,
    models: db.models,
    gcalId,
    calendarId,
    outcomes,
    client,
    engine(overrides = {}, opts = {}) {
      const api = client();
      const engine = new SyncEngine({
        models: db.models,
        sync,
        clientFor: () => api,
        onSyncFinished: (o) => void outcomes.push(o),
        pollMs: 100,
        ...overrides,
      });
      engines.push(engine);
      if (opts.start) engine.start();
      return engine;
    },
    async calendar() {
      return (await db.models.Calendar.findById(calendarId).lean()) as Record<string, unknown>;
    },
    async token() {
      return (await readSyncToken(db.models.Calendar, calendarId))?.token ?? null;
    },
    async assertMirrorExact(tt, message = 'the mirror equals Google') {
      const google = emu
        .listAllEvents(gcalId, { singleEvents: sync.singleEvents })
        .map((e) => [e.id, e.etag])
        .sort();
      const mirror = (await db.models.Event.find({ calendarId: new Types.ObjectId(calendarId) }, { googleEventId: 1, etag: 1 }).lean())
        .map((e) => [e.googleEventId, e.etag])
        .sort();
      tt.same(mirror, google, message);
    },
    seed(n, from = 0) {
      return emu.insertEvents(gcalId, Array.from({ length: n }, (_, i) => eventBody(from + i)));
    },
  };
}
