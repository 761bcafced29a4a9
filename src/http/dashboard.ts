import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { secretsEqual } from '../crypto/hash.js';
import { bearerToken } from './admin/auth.js';
import { summarizeLastHour, evaluateAlerts } from '../ops/alerts.js';
import type { Services } from '../services.js';

const escape = (v: unknown): string =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

const ago = (d: Date | null | undefined, now: number): string => {
  if (!d) return 'never';
  const s = Math.round((now - new Date(d).getTime()) / 1000);
  const abs = Math.abs(s);
  const span = abs < 120 ? `${abs}s` : abs < 7200 ? `${Math.round(abs / 60)}m` : abs < 172_800 ? `${Math.round(abs / 3600)}h` : `${Math.round(abs / 86_400)}d`;
  return s < 0 ? `in ${span}` : `${span} ago`;
};

/**
 * The admin secret as Bearer (scripts) or as the Basic-auth password (a browser prompts for it),
 * compared in constant time. The token never travels in a URL, where logs and history would keep it.
 */
function presentedSecret(req: FastifyRequest): string | null {
  const bearer = bearerToken(req.headers.authorization);
  if (bearer) return bearer;
  const header = req.headers.authorization ?? '';
  const basic = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic?.[1]) return null;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : null;
}

/** GET /dashboard: the ops page. Server-rendered HTML, no scripts, refreshes itself every 30 s. */
export const dashboardRoutes: FastifyPluginAsync<{ adminToken: string; services: Services }> = async (app, { adminToken, services }) => {
  app.get('/dashboard', async (req: FastifyRequest, reply: FastifyReply) => {
    const secret = presentedSecret(req);
    if (!secret || !secretsEqual(secret, adminToken)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Basic realm="calsync dashboard", charset="UTF-8"')
        .type('text/plain')
        .send('the admin token is required (Basic auth password or Bearer)');
    }
    const now = Date.now();
    const [calendars, fleet, hour] = await Promise.all([
      services.views.page({ limit: 100 }).then((p) => p.calendars),
      services.views.fleet() as Promise<{ calendars: { total: number; byState: Record<string, number>; byMode: Record<string, number> }; channels: Record<string, unknown> }>,
      summarizeLastHour(services.SyncRun),
    ]);
    const alerts = evaluateAlerts(hour);
    const rate = (n: number) => (hour.syncs ? `${((100 * n) / hour.syncs).toFixed(1)}%` : '–');

    const rows = calendars
      .map(
        (c) => `<tr class="${escape(c.state)}"><td>${escape(c.googleCalendarId)}<br><small>${escape(c.id)}</small></td>
<td>${escape(c.state)}</td><td>${escape(c.mode)}${c.modeReason ? `<br><small>${escape(c.modeReason)}</small>` : ''}</td>
<td>${c.hasSyncToken ? 'yes' : 'no'}</td><td>${escape(ago(c.lastSyncedAt, now))}</td><td>${escape(ago(c.lastFullSyncAt, now))}</td>
<td>${escape(c.eventCount)}</td><td>${c.channel?.expiration ? escape(ago(c.channel.expiration, now)) : '–'}</td>
<td>${c.lastError ? `${escape(c.lastError.code)}: ${escape(c.lastError.message)}` : ''}</td></tr>`,
      )
      .join('\n');

    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="30"><title>calsync</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}small{color:#777}
.failed td,.needs_attention td{background:#fff1f0}.alert{background:#fff1f0;border-left:4px solid #d33;padding:6px 10px;margin:4px 0}
.ok{background:#f0fff4;border-left:4px solid #2a2;padding:6px 10px}dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}</style>
</head><body>
<h1>calsync</h1>
${alerts.length ? alerts.map((a) => `<div class="alert"><b>${escape(a.name)}</b> (${escape(a.severity)}): ${escape(a.message)}</div>`).join('') : '<div class="ok">no active alerts</div>'}
<h2>Last hour</h2>
<dl><dt>syncs</dt><dd>${hour.syncs} (${hour.incremental} incremental, ${hour.full} full)</dd>
<dt>failed</dt><dd>${hour.failed} (${rate(hour.failed)})</dd>
<dt>full-sync fallbacks</dt><dd>${hour.fallbacks} (${rate(hour.fallbacks)})</dd>
<dt>token expirations</dt><dd>${hour.tokenExpirations} (${rate(hour.tokenExpirations)})</dd>
<dt>slowest sync</dt><dd>${(hour.maxDurationMs / 1000).toFixed(2)} s</dd>
<dt>Google API calls</dt><dd>${hour.apiCalls}</dd></dl>
<h2>Fleet</h2>
<dl><dt>calendars</dt><dd>${fleet.calendars.total}: ${Object.entries(fleet.calendars.byState).map(([k, v]) => `${escape(k)} ${v}`).join(', ')}</dd>
<dt>delivery</dt><dd>${Object.entries(fleet.calendars.byMode).map(([k, v]) => `${escape(k)} ${v}`).join(', ')}</dd>
<dt>channels</dt><dd>${Object.entries(fleet.channels).map(([k, v]) => `${escape(k)} ${escape(v instanceof Date ? v.toISOString() : v)}`).join(', ')}</dd></dl>
<h2>Calendars</h2>
<table><thead><tr><th>calendar</th><th>state</th><th>delivery</th><th>token</th><th>last sync</th><th>last full sync</th><th>events</th><th>channel expires</th><th>last error</th></tr></thead>
<tbody>${rows || '<tr><td colspan="9">no calendars registered</td></tr>'}</tbody></table>
<p><small>Metrics: <code>/metrics</code>. JSON: <code>/admin/status</code>, <code>/admin/calendars</code>.</small></p>
</body></html>`;
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
  });
};
