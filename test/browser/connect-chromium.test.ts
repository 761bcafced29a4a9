/// <reference lib="dom" />
// Connecting a Google account in a real browser: headless Chromium (Debian's, installed by
// .ci/install-chromium.sh) driven by playwright-core follows a signed connect link through the
// emulator's consent screen (automatic consent) back to calsync's callback page; then the account's
// calendar is mirrored. Also the denied-consent path. Screenshots of each result page go to test-output/.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AUTH, ADMIN_TOKEN, startPushHarness, type PushHarness } from '../helpers/push-harness.js';
import { eventBody } from '../helpers/sync-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const outDir = path.resolve(import.meta.dirname, '..', '..', 'test-output');
const GCAL = 'grace-team@group.calendar.google.com';

// Two harnesses and two Chromium launches: ~16 s on a quiet machine; generous for a loaded one.
t.setTimeout(180_000);

async function launch(t: Test): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  t.teardown(() => browser.close());
  return browser;
}

async function shot(t: Test, page: Page, name: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `connect-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  t.comment(`screenshot: ${file}`);
}

/** A signed connect link, as the operator's product would hand it to a user. */
async function connectLink(h: PushHarness): Promise<string> {
  const res = await h.app.inject({ method: 'POST', url: '/admin/connect-links', headers: AUTH, payload: { ttlSeconds: 600 } });
  if (res.statusCode !== 201) throw new Error(`connect-links answered ${res.statusCode}: ${res.body}`);
  return (res.json() as { url: string }).url;
}

const accounts = async (h: PushHarness) =>
  ((await h.app.inject({ method: 'GET', url: '/admin/accounts', headers: AUTH })).json() as { accounts: Array<{ id: string; email: string; status: string }> }).accounts;

if (!existsSync(CHROMIUM)) {
  t.fail(`${CHROMIUM} is missing: run \`bash .ci/install-chromium.sh\` (as root) to install Debian's chromium`);
  t.end();
} else {
  t.test('connect link → consent → callback page in Chromium; the account\'s calendar is then mirrored', async (t) => {
    const h = await startPushHarness(t, { name: 'connect-browser', listen: true });
    h.emu.addUser('grace@example.com', { sub: '3000001' });
    h.emu.createCalendar(GCAL);
    h.emu.insertEvents(GCAL, [eventBody(1, 'standup'), eventBody(2, 'review'), eventBody(3, 'retro')]);

    const browser = await launch(t);
    const page = await (await browser.newContext({ viewport: { width: 900, height: 600 } })).newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    const visited: string[] = [];
    page.on('request', (r) => {
      if (r.isNavigationRequest()) visited.push(new URL(r.url()).pathname);
    });

    const response = await page.goto(await connectLink(h));
    t.equal(response?.status(), 200, 'the callback page answers 200');
    t.same(visited, ['/connect/google', '/o/oauth2/v2/auth', '/connect/google/callback'], 'calsync → the consent screen → the callback');
    t.equal(await page.locator('main').getAttribute('data-outcome'), 'connected');
    t.equal(await page.locator('h1').innerText(), 'Account connected');
    t.match(await page.locator('p').innerText(), /grace@example\.com is now connected/);
    await shot(t, page, 'connected');
    const cookies = await page.context().cookies();
    t.same(cookies.filter((c) => c.name === 'calsync_connect' && c.value !== ''), [], 'the one-time connect cookie is cleared');

    const [account, ...others] = await accounts(h);
    t.equal(others.length, 0);
    t.match(account, { email: 'grace@example.com', status: 'active' });

    // Calendar discovery is another piece of work: the calendar is registered through the admin API.
    const reg = await h.app.inject({ method: 'POST', url: '/admin/calendars', headers: AUTH, payload: { accountId: account!.id, googleCalendarId: GCAL } });
    t.equal(reg.statusCode, 201, 'calendar registered');
    const calendarId = (reg.json() as { id: string }).id;
    await h.emu.flushPings();
    await h.engine!.onIdle();
    const events = (await h.app.inject({ method: 'GET', url: `/admin/calendars/${calendarId}/events`, headers: AUTH })).json() as { events: Array<{ summary?: string }> };
    t.same(events.events.map((e) => e.summary).sort(), ['retro', 'review', 'standup'], 'its events are mirrored');

    // The mirrored calendar as ops see it, in the same browser.
    const dash = await (await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN_TOKEN } })).newPage();
    await dash.goto(`${h.baseUrl}/dashboard/calendars/${calendarId}`);
    t.equal(await dash.locator('h1').innerText(), GCAL);
    t.match(await dash.locator('dl').first().innerText(), /events\s+3/);
    await shot(t, dash, 'calendar-mirrored');
    t.same(problems, [], 'no console errors or warnings on the connect pages');
  });

  t.test('denied consent in Chromium shows a clear page and connects nothing', async (t) => {
    const h = await startPushHarness(t, { name: 'connect-browser-denied', listen: true, sync: 'recording' });
    h.emu.addUser('grace@example.com', { sub: '3000001' });
    h.emu.setConsent({ deny: true });

    const browser = await launch(t);
    const page = await (await browser.newContext()).newPage();
    const response = await page.goto(await connectLink(h));
    t.equal(response?.status(), 403);
    t.match(new URL(page.url()).search, /error=access_denied/, 'Google sent the browser back with access_denied');
    t.equal(await page.locator('main').getAttribute('data-outcome'), 'consent_denied');
    t.equal(await page.locator('h1').innerText(), 'Not connected');
    t.match(await page.locator('p').innerText(), /Access was not granted, so no account was connected/);
    await shot(t, page, 'denied');
    t.same(await accounts(h), [], 'no account');
  });
}
