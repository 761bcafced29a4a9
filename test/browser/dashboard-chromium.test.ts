/// <reference lib="dom" />
// The dashboard in a real browser: headless Chromium (Debian's, installed by .ci/install-chromium.sh)
// driven by playwright-core. Checks that the charts render under the page's CSP, that nothing logs
// an error, and that paging and the state filter work by clicking; screenshots go to test-output/.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Types } from 'mongoose';
import { chromium, type Page } from 'playwright-core';
import { appOnTestDb } from '../helpers/app-on-test-db.js';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN = 'dashboard-browser-admin-token-012345678';
const outDir = path.resolve(import.meta.dirname, '..', '..', 'test-output');

if (!existsSync(CHROMIUM)) {
  t.fail(`${CHROMIUM} is missing: run \`bash .ci/install-chromium.sh\` (as root) to install Debian's chromium`);
  t.end();
} else {
  t.test('the dashboard renders its charts without errors or CSP violations, and pages and filters by clicking', async (t) => {
    const app = await appOnTestDb(t, 'dashboard-browser', { ADMIN_TOKEN: ADMIN });

    // 230 calendars (every 10th failed) and a day of sync runs.
    const accountId = new Types.ObjectId();
    const calendars = Array.from({ length: 230 }, (_, i) => ({
      _id: new Types.ObjectId(),
      accountId,
      googleCalendarId: `team-${String(i).padStart(3, '0')}@group.calendar.google.com`,
      state: i % 10 === 0 ? 'failed' : 'idle',
      lastSyncedAt: new Date(Date.now() - i * 60_000),
      lastError: i % 10 === 0 ? { code: 'permission', message: 'HTTP 403 forbidden', at: new Date() } : null,
    }));
    await app.services.models.Calendar.insertMany(calendars);
    const now = Date.now();
    await app.services.SyncRun.insertMany(
      Array.from({ length: 600 }, (_, i) => ({
        calendarId: calendars[i % calendars.length]!._id,
        mode: i % 12 === 0 ? 'full' : 'incremental',
        outcome: i % 25 === 0 ? 'failed' : 'ok',
        fallbackReason: i % 40 === 0 ? 'token_expired' : null,
        tokenExpired: i % 40 === 0,
        durationMs: 80 + ((i * 37) % 3000),
        apiCalls: i % 12 === 0 ? 8 : 1,
        fullPollCalls: 8,
        finishedAt: new Date(now - ((i * 144_000) % 86_400_000)),
      })),
    );
    const base = await app.listen({ host: '127.0.0.1', port: 0 });

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    t.teardown(() => browser.close());
    const context = await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN }, viewport: { width: 1280, height: 1000 } });
    // Runs in every page before its own scripts, outside the page's CSP: records any violation.
    await context.addInitScript(() => {
      const w = window as unknown as { cspViolations: string[] };
      w.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => w.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`);
    });
    mkdirSync(outDir, { recursive: true });
    const shot = async (p: Page, name: string) => {
      const file = path.join(outDir, `dashboard-${name}.png`);
      await p.screenshot({ path: file, fullPage: true });
      t.comment(`screenshot: ${file}`);
    };
    const cspViolations = () => page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);
    const rows = () => page.locator('#calendar-list tbody tr').count();

    await page.goto(`${base}/dashboard`);
    await page.waitForSelector('figure.chart[data-rendered]', { state: 'attached' });
    await page.waitForFunction(() => document.querySelectorAll('figure.chart[data-rendered]').length === 4);
    t.equal(await page.locator('figure.chart[data-rendered="true"]').count(), 4, 'four charts rendered');
    t.equal(await page.locator('figure.chart canvas').count(), 4, 'each draws a canvas');
    t.equal(await page.locator('figure.chart .u-legend').count(), 4, 'with a legend');
    const drawn = await page.evaluate(() =>
      Array.from(document.querySelectorAll<HTMLCanvasElement>('figure.chart canvas')).map((c) => {
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let ink = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) ink++;
        return ink;
      }),
    );
    t.ok(drawn.every((ink) => ink > 500), `every canvas has lines on it (${drawn.join(', ')} pixels)`);
    t.equal(await rows(), 100, 'the first page of calendars');
    await shot(page, 'overview');

    await page.click('nav.pager a[rel="next"]');
    await page.waitForURL(/cursor=/);
    t.equal(await rows(), 100, 'the second page');
    t.equal(await page.locator('#calendar-list tbody tr').first().locator('a').innerText(), 'team-100@group.calendar.google.com');
    await page.click('nav.pager a[rel="next"]');
    await page.waitForURL(/cursor=/);
    t.equal(await rows(), 30, 'the last page holds the rest');
    t.equal(await page.locator('nav.pager a[rel="next"]').count(), 0, 'and no next link');

    await page.click('nav.filters a:has-text("failed (23)")');
    await page.waitForURL(/state=failed/);
    t.equal(await rows(), 23, 'the failed calendars');
    t.equal(await page.locator('#calendar-list tbody tr.state-failed').count(), 23, 'only failed ones');
    await shot(page, 'failed');

    await page.locator('#calendar-list tbody tr a').first().click();
    await page.waitForURL(/\/dashboard\/calendars\/[0-9a-f]{24}$/);
    t.equal(await page.locator('h1').innerText(), 'team-000@group.calendar.google.com');
    t.ok((await page.locator('#recent-syncs tbody tr').count()) > 0, 'recent syncs listed');
    t.match(await page.locator('.alert').first().innerText(), 'HTTP 403 forbidden');
    await shot(page, 'calendar');

    t.same(await cspViolations(), [], 'no CSP violations');
    t.same(problems, [], 'no console errors or warnings, no failed requests');
  });
}
