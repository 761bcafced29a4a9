// `npm run dev`: the whole loop on one machine with no Google account and no config. A local
// database, the Google Calendar API emulator, the calsync server, and a demo calendar whose changes
// flow emulator → ping → webhook → incremental sync → mirror. Prints the URLs; Ctrl-C stops it all.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { startLocalDb } from './lib/local-db.js';
import { startEmulator, type Emulator } from '../src/emulator/index.js';
import { loadConfig } from '../src/config/env.js';
import { loggerOptions } from '../src/logger.js';
import { connectDatabase } from '../src/db/connect.js';
import { buildApp } from '../src/app.js';
import { startDemoSubscriber } from './lib/demo-subscriber.js';
import { adminClient } from './lib/admin-client.js';

const PORT = Number(process.env.PORT ?? 3000);
const EMULATOR_PORT = Number(process.env.EMULATOR_PORT ?? 8085);
const CHANGE_EVERY_MS = Number(process.env.DEMO_CHANGE_INTERVAL_MS ?? 5000);
const DEMO_CALENDAR = 'demo@calsync.local';
const DEMO_REFRESH_TOKEN = `demo-refresh-${randomBytes(8).toString('hex')}`;

const say = (msg: string) => process.stdout.write(`[dev] ${msg}\n`);

async function startEmulatorOnFreePort(): Promise<Emulator> {
  try {
    return await startEmulator({ port: EMULATOR_PORT });
  } catch {
    return startEmulator({ port: 0 });
  }
}

const db = await startLocalDb({ log: (m) => say(`database: ${m}`) });
const emulator = await startEmulatorOnFreePort();

const adminToken = process.env.ADMIN_TOKEN ?? randomBytes(24).toString('base64url');
// The admin token is a secret: it is never printed. A generated one goes to a file only this user
// can read, and the hints below read it from there (or from $ADMIN_TOKEN when the user chose it).
const TOKEN_FILE = '.dev/admin-token';
if (!process.env.ADMIN_TOKEN) {
  mkdirSync('.dev', { recursive: true, mode: 0o700 });
  writeFileSync(TOKEN_FILE, `${adminToken}\n`, { mode: 0o600 });
  chmodSync(TOKEN_FILE, 0o600);
}
const tokenRef = process.env.ADMIN_TOKEN ? '$ADMIN_TOKEN' : `$(cat ${TOKEN_FILE})`;
const config = loadConfig({
  LOG_LEVEL: 'warn',
  CHANNEL_RENEW_LEAD_SECONDS: '3600',
  // The demo webhook subscriber listens on loopback.
  SUBSCRIPTIONS_ALLOW_LOOPBACK: 'true',
  ...process.env,
  MONGODB_URI: db.uri,
  PORT: String(PORT),
  HOST: '127.0.0.1',
  PUBLIC_BASE_URL: `http://127.0.0.1:${PORT}`,
  ADMIN_TOKEN: adminToken,
  ENCRYPTION_KEY: process.env.ENCRYPTION_KEY ?? randomBytes(32).toString('base64'),
  GOOGLE_API_ROOT_URL: emulator.url,
  GOOGLE_OAUTH_TOKEN_URL: emulator.tokenUrl,
  GOOGLE_OAUTH_AUTH_URL: emulator.authUrl,
  GOOGLE_CLIENT_ID: 'calsync-dev',
  GOOGLE_CLIENT_SECRET: 'calsync-dev-secret',
});

const conn = await connectDatabase(config.mongodbUri);
const app = await buildApp({ config, conn, logger: pino(loggerOptions(config.logLevel)) });
await app.listen({ port: config.port, host: config.host });
app.services.startCron();
const base = `http://127.0.0.1:${PORT}`;

// The demo calendar: a handful of events in the sync window, then registered through the admin API
// exactly as an operator would (account with a refresh token, then the calendar).
emulator.addAccount(DEMO_REFRESH_TOKEN);
emulator.createCalendar(DEMO_CALENDAR, { summary: 'calsync demo' });
const hour = 3600_000;
const at = (h: number) => new Date(Math.floor(Date.now() / hour) * hour + h * hour).toISOString();
for (let i = 0; i < 5; i++) {
  emulator.insertEvent(DEMO_CALENDAR, { summary: `Demo meeting ${i + 1}`, start: { dateTime: at(24 * i + 10) }, end: { dateTime: at(24 * i + 11) } });
}
emulator.insertEvent(DEMO_CALENDAR, {
  summary: 'Daily standup',
  start: { dateTime: at(33), timeZone: 'UTC' },
  end: { dateTime: at(33.25), timeZone: 'UTC' },
  recurrence: ['RRULE:FREQ=DAILY;COUNT=5'],
});

const admin = adminClient(base, adminToken);
const account = await admin('POST', '/admin/accounts', { refreshToken: DEMO_REFRESH_TOKEN, label: 'demo' });
const calendar = await admin('POST', '/admin/calendars', { accountId: account.id, googleCalendarId: DEMO_CALENDAR });
const calendarId = String(calendar.id);
// A Google user for the consent flow: the emulator consents as this user at once.
emulator.addUser('demo@example.com');
const connectLink = await admin('POST', '/admin/connect-links', { ttlSeconds: 86_400 });
const subscriber = await startDemoSubscriber(say);
const subscription = await admin('POST', '/admin/subscriptions', { url: subscriber.url });
subscriber.setSecret(String(subscription.secret));

say(`database:   ${db.uri} (${db.kind})`);
say(`emulator:   ${emulator.url}  (control API: ${emulator.url}/emulator/stats)`);
say(`server:     ${base}  (/healthz /readyz /metrics)`);
say(`dashboard:  ${base}/dashboard  (user: anything, password: the admin token, ${process.env.ADMIN_TOKEN ? 'your ADMIN_TOKEN' : `in ${TOKEN_FILE}`})`);
say(`admin:      curl -H "Authorization: Bearer ${tokenRef}" ${base}/admin/calendars/${calendarId}`);
say(`mirror:     curl -H "Authorization: Bearer ${tokenRef}" '${base}/admin/calendars/${calendarId}/events?limit=20'`);
say(`connect:    ${String(connectLink.url)}  (open in a browser: consent → account connected; valid 24 h)`);
say(`changes:    curl -H "Authorization: Bearer ${tokenRef}" '${base}/admin/changes?wait=30'  (a demo webhook subscriber at ${subscriber.url} prints each change)`);
say(`every ${CHANGE_EVERY_MS / 1000}s the demo changes an event in the emulator; watch it reach the mirror. Ctrl-C stops.`);

/** Waits until the mirror holds the event at this etag (or without it, for a deletion). */
async function mirrored(googleEventId: string, etag: string | null, timeoutMs = 15_000): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const doc = await app.services.models.Event.findOne({ googleEventId }, { etag: 1 }).lean();
    if (etag === null ? !doc : doc?.etag === etag) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}

let n = 0;
const ids: string[] = [];
const timer = setInterval(() => {
  n++;
  const step = n % 3;
  let id: string;
  let etag: string | null;
  let what: string;
  if (step === 1 || ids.length === 0) {
    const ev = emulator.insertEvent(DEMO_CALENDAR, { summary: `Demo change ${n}`, start: { dateTime: at(48 + n) }, end: { dateTime: at(49 + n) } });
    id = ev.id!;
    etag = ev.etag!;
    ids.push(id);
    what = `inserted "${ev.summary}"`;
  } else if (step === 2) {
    id = ids[ids.length - 1]!;
    const ev = emulator.patchEvent(DEMO_CALENDAR, id, { summary: `Demo change ${n} (renamed)` });
    etag = ev.etag!;
    what = `renamed to "${ev.summary}"`;
  } else {
    id = ids.shift()!;
    emulator.deleteEvent(DEMO_CALENDAR, id);
    etag = null;
    what = 'deleted';
  }
  void mirrored(id, etag).then((ms) =>
    say(ms === null ? `change ${n}: ${what} → NOT in the mirror after 15 s (see /dashboard)` : `change ${n}: ${what} → mirrored in ${ms} ms`),
  );
}, CHANGE_EVERY_MS);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    say('stopping…');
    void (async () => {
      await app.close();
      await subscriber.close();
      await conn.close();
      await emulator.close();
      await db.stop();
      process.exit(0);
    })().catch((err: Error) => {
      process.stderr.write(`[dev] shutdown failed: ${err.message}\n`);
      process.exit(1);
    });
  });
}
