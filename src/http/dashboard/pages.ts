import { html } from 'ghtml';
import type { AccountSummary } from '../../accounts/account-service.js';
import type { CalendarState, FleetStatus } from '../../calendars/calendar-views.js';
import type { Alert, HourSummary } from '../../ops/alerts.js';
import type { RecentRun } from '../../ops/recent-runs.js';
import type { SyncHistory } from '../../ops/sync-history.js';
import { SYNC_STATES } from '../../models/calendar.js';

/**
 * The dashboard's HTML. ghtml's `html` escapes every interpolated value; `!${…}` (no escaping) is
 * used only for fragments these functions built with `html` themselves, never for data. No inline
 * script or style: the CSP forbids them, charts are drawn by /dashboard/assets/dashboard.js from the
 * JSON in each chart's data attribute.
 */

export const ago = (d: Date | null | undefined, now: number): string => {
  if (!d) return 'never';
  const s = Math.round((now - new Date(d).getTime()) / 1000);
  const abs = Math.abs(s);
  const span = abs < 120 ? `${abs}s` : abs < 7200 ? `${Math.round(abs / 60)}m` : abs < 172_800 ? `${Math.round(abs / 3600)}h` : `${Math.round(abs / 86_400)}d`;
  return s < 0 ? `in ${span}` : `${span} ago`;
};

const seconds = (ms: number | null | undefined) => (ms == null ? '–' : `${(ms / 1000).toFixed(2)} s`);

function layout(title: string, body: string, opts: { refresh?: boolean } = {}): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
!${opts.refresh ? html`<meta http-equiv="refresh" content="60">` : ''}<title>${title}</title>
<link rel="stylesheet" href="/dashboard/assets/uPlot.min.css"><link rel="stylesheet" href="/dashboard/assets/dashboard.css">
<script src="/dashboard/assets/uPlot.iife.min.js" defer></script><script src="/dashboard/assets/dashboard.js" defer></script>
</head><body>
<header><a href="/dashboard">calsync</a></header>
<main>!${body}</main>
<footer><small>Metrics: <code>/metrics</code>. JSON: <code>/admin/status</code>, <code>/admin/calendars</code>.</small></footer>
</body></html>`;
}

interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  series: { label: string; values: (number | null)[] }[];
}

function chart(x: number[], spec: ChartSpec): string {
  const data = JSON.stringify({ title: spec.title, unit: spec.unit, x, series: spec.series });
  return html`<figure class="chart" id="chart-${spec.id}" data-chart="${data}"><figcaption>${spec.title}</figcaption></figure>`;
}

export function charts(h: SyncHistory): string {
  const x = h.bucketStarts.map((ms) => ms / 1000);
  const minutes = h.bucketMs / 60_000;
  const specs: ChartSpec[] = [
    { id: 'syncs', title: `Syncs by mode (per ${minutes} min)`, unit: 'syncs', series: [{ label: 'incremental', values: h.incremental }, { label: 'full', values: h.full }] },
    {
      id: 'failures',
      title: `Failures and full-sync fallbacks (per ${minutes} min)`,
      unit: 'syncs',
      series: [{ label: 'failed', values: h.failed }, { label: 'fallbacks', values: h.fallbacks }, { label: 'token expirations', values: h.tokenExpirations }],
    },
    {
      id: 'api',
      title: `Google API calls vs the full-polling baseline (per ${minutes} min)`,
      unit: 'calls',
      series: [{ label: 'API calls', values: h.apiCalls }, { label: 'full re-list baseline', values: h.fullPollCalls }],
    },
    {
      id: 'duration',
      title: 'Sync duration p50 / p99 (from stored runs)',
      unit: 'ms',
      series: [{ label: 'p50', values: h.durationP50 }, { label: 'p99', values: h.durationP99 }],
    },
  ];
  return html`<section class="charts">!${specs.map((s) => chart(x, s))}</section>`;
}

export interface OverviewData {
  now: number;
  alerts: Alert[];
  hour: HourSummary;
  fleet: FleetStatus;
  /** When the fleet counts were computed (they are kept for a short while; see FLEET_COUNTS_MAX_AGE_MS). */
  fleetAsOf: Date;
  history: SyncHistory;
  page: { calendars: CalendarState[]; nextCursor: string | null };
  state: string | undefined;
  cursor: string | undefined;
  /** Accounts Google refused the refresh token of (a few, longest waiting first). */
  reconnect?: AccountSummary[];
}

/** Accounts a person must reconnect: their calendars are parked until then. Nothing when there are none. */
function reconnectBlock(accounts: AccountSummary[] | undefined, now: number): string {
  if (!accounts?.length) return '';
  const rows = accounts.map(
    (a) => html`<tr><td>${a.email ?? a.label ?? ''}<br><small>${a.id}</small></td><td>${a.statusReason ?? ''}</td><td>${ago(a.statusChangedAt, now)}</td></tr>`,
  );
  return html`<section id="accounts-reconnect" class="alert"><h2>Accounts to reconnect</h2>
<p>Google refused these accounts' refresh tokens: their calendars are not synced (mirror kept) until the same Google user connects again (<code>POST /admin/connect-links</code>).</p>
<table><thead><tr><th>account</th><th>reason</th><th>since</th></tr></thead><tbody>!${rows}</tbody></table></section>`;
}

const listUrl = (state: string | undefined, cursor?: string | null) => {
  const q = new URLSearchParams();
  if (state) q.set('state', state);
  if (cursor) q.set('cursor', cursor);
  const s = q.toString();
  return s ? `/dashboard?${s}` : '/dashboard';
};

function calendarRow(c: CalendarState, now: number): string {
  return html`<tr class="state-${c.state}">
<td><a href="/dashboard/calendars/${c.id}">${c.googleCalendarId}</a><br><small>${c.id}</small></td>
<td>${c.state}</td><td>${c.mode}${c.modeReason ? html`<br><small>${c.modeReason}</small>` : ''}</td>
<td>${c.hasSyncToken ? 'yes' : 'no'}</td><td>${ago(c.lastSyncedAt, now)}</td><td>${ago(c.lastFullSyncAt, now)}</td>
<td>${c.eventCount}</td><td>${c.channel?.expiration ? ago(c.channel.expiration, now) : '–'}</td>
<td>${c.lastError ? `${c.lastError.code}: ${c.lastError.message}` : ''}</td></tr>`;
}

export function overviewPage(d: OverviewData): string {
  const { hour, fleet, now } = d;
  const rate = (n: number) => (hour.syncs ? `${((100 * n) / hour.syncs).toFixed(1)}%` : '–');
  const alerts = d.alerts.length
    ? d.alerts.map((a) => html`<div class="alert"><b>${a.name}</b> (${a.severity}): ${a.message}</div>`)
    : [html`<div class="ok">no active alerts</div>`];
  const filters = [
    html`<a href="/dashboard" class="${d.state ? '' : 'current'}">all (${fleet.calendars.total})</a>`,
    ...SYNC_STATES.map((s) => html`<a href="${listUrl(s)}" class="${d.state === s ? 'current' : ''}">${s} (${fleet.calendars.byState[s] ?? 0})</a>`),
  ];
  const rows = d.page.calendars.map((c) => calendarRow(c, now));
  const pager = [
    d.cursor ? html`<a href="${listUrl(d.state)}">first page</a>` : '',
    d.page.nextCursor ? html`<a href="${listUrl(d.state, d.page.nextCursor)}" rel="next">next page</a>` : '',
  ];
  const channels = fleet.channels;
  const body = html`<h1>calsync</h1>
!${alerts}
!${reconnectBlock(d.reconnect, now)}
<h2>Last 24 hours</h2>
!${charts(d.history)}
<h2>Last hour</h2>
<dl><dt>syncs</dt><dd>${hour.syncs} (${hour.incremental} incremental, ${hour.full} full)</dd>
<dt>failed</dt><dd>${hour.failed} (${rate(hour.failed)})</dd>
<dt>full-sync fallbacks</dt><dd>${hour.fallbacks} (${rate(hour.fallbacks)})</dd>
<dt>token expirations</dt><dd>${hour.tokenExpirations} (${rate(hour.tokenExpirations)})</dd>
<dt>slowest sync</dt><dd>${seconds(hour.maxDurationMs)}</dd>
<dt>Google API calls</dt><dd>${hour.apiCalls}</dd></dl>
<h2>Fleet</h2>
<p class="as-of" id="fleet-as-of">Counts (here and in the state filters) as of ${ago(d.fleetAsOf, now)}.</p>
<dl><dt>delivery</dt><dd>${Object.entries(fleet.calendars.byMode).map(([k, v]) => `${k} ${v}`).join(', ')}</dd>
<dt>channels</dt><dd>active ${channels.active}, pending ${channels.pending}, superseded ${channels.superseded}, expired ${channels.expired}, due for renewal ${channels.dueForRenewal}, push calendars without channel ${channels.pushCalendarsWithoutChannel}</dd>
<dt>next channel expiry</dt><dd>${channels.nextExpiration ? ago(channels.nextExpiration, now) : '–'}</dd></dl>
<h2 id="calendars">Calendars</h2>
<nav class="filters">!${filters}</nav>
<table id="calendar-list"><thead><tr><th>calendar</th><th>state</th><th>delivery</th><th>token</th><th>last sync</th><th>last full sync</th><th>events</th><th>channel expires</th><th>last error</th></tr></thead>
<tbody>!${rows.length ? rows : html`<tr><td colspan="9">no calendars${d.state ? html` in state ${d.state}` : ''}</td></tr>`}</tbody></table>
<nav class="pager">!${pager}</nav>`;
  return layout('calsync', body, { refresh: true });
}

export interface CalendarPageData {
  now: number;
  calendar: CalendarState;
  runs: RecentRun[];
  failures: RecentRun[];
}

function runRows(runs: RecentRun[]): string[] {
  return runs.map(
    (r) => html`<tr class="outcome-${r.outcome}"><td>${r.finishedAt.toISOString()}</td><td>${r.mode}</td><td>${r.outcome}</td>
<td>${r.fallbackReason ?? ''}</td><td>${seconds(r.durationMs)}</td><td>${r.apiCalls}</td><td>${r.eventsChanged}</td><td>${r.errorCode ?? ''}</td></tr>`,
  );
}

const runTable = (id: string, runs: RecentRun[], empty: string) =>
  html`<table id="${id}"><thead><tr><th>finished</th><th>mode</th><th>outcome</th><th>fallback</th><th>duration</th><th>API calls</th><th>events changed</th><th>error</th></tr></thead>
<tbody>!${runs.length ? runRows(runs) : html`<tr><td colspan="8">${empty}</td></tr>`}</tbody></table>`;

export function calendarPage(d: CalendarPageData): string {
  const c = d.calendar;
  const ch = c.channel;
  const body = html`<p><a href="/dashboard">← all calendars</a></p>
<h1>${c.googleCalendarId}</h1>
<dl><dt>id</dt><dd>${c.id}</dd><dt>account</dt><dd>${c.accountId}</dd>
<dt>state</dt><dd>${c.state}</dd><dt>delivery</dt><dd>${c.mode}${c.modeReason ? ` (${c.modeReason})` : ''}</dd>
<dt>incremental sync</dt><dd>${c.incrementalEnabled === null ? 'global setting' : c.incrementalEnabled ? 'on' : 'off'}</dd>
<dt>sync token</dt><dd>${c.hasSyncToken ? 'yes' : 'no'}</dd>
<dt>last sync</dt><dd>${ago(c.lastSyncedAt, d.now)} (${seconds(c.lastSyncDurationMs)})</dd>
<dt>last full sync</dt><dd>${ago(c.lastFullSyncAt, d.now)}</dd><dt>events</dt><dd>${c.eventCount}</dd></dl>
<h2>Last error</h2>
!${c.lastError ? html`<div class="alert"><b>${c.lastError.code ?? ''}</b>: ${c.lastError.message ?? ''} <small>${ago(c.lastError.at, d.now)}</small></div>` : html`<div class="ok">none</div>`}
<h2>Channel</h2>
!${ch
    ? html`<dl id="channel"><dt>id</dt><dd>${ch.id}</dd><dt>status</dt><dd>${ch.status}</dd><dt>expires</dt><dd>${ch.expiration ? ago(ch.expiration, d.now) : '–'}</dd><dt>last ping</dt><dd>${ago(ch.lastPingAt, d.now)}</dd></dl>`
    : html`<p id="channel">no open channel${c.mode === 'polling' ? ' (polling)' : ''}</p>`}
<h2>Recent syncs</h2>
!${runTable('recent-syncs', d.runs, 'no sync recorded in the last 7 days')}
<h2>Recent errors</h2>
!${runTable('recent-errors', d.failures, 'no failed sync recorded in the last 7 days')}`;
  return layout(`calsync: ${c.googleCalendarId}`, body);
}
