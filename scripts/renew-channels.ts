// `npm run renew-channels`: one renewal pass that claims due calendars (channel inside the renewal
// lead, push calendar missing a channel) until none is due, then exits. Safe next to running
// servers: each calendar is claimed with an atomic lease in MongoDB, so passes running at once
// share the work and renew nothing twice.
// Exit 0 when every calendar has a current channel; 1 with a one-line reason otherwise.
import { pino } from 'pino';
import type { RenewalReport } from '../src/channels/channel-service.js';
import { loggerOptions } from '../src/logger.js';
import { createServices } from '../src/services.js';
import { runOperatorScript } from './lib/operator-script.js';

function summary(r: RenewalReport): string {
  return (
    `renewed ${r.renewed}, created ${r.created}, already current ${r.alreadyCurrent}, ` +
    `switched to polling ${r.switchedToPolling}, failed ${r.failed.length}; ` +
    `old channels stopped ${r.stops.stopped}, stop retries pending ${r.stops.failed}`
  );
}

runOperatorScript('renew-channels', async (config, conn) => {
  // Logs go to stderr so stdout carries only the one-line summary.
  const log = pino(loggerOptions(config.logLevel), pino.destination(2));
  // The production wiring; nothing is started (no cron, no syncs), only one renewal pass runs.
  const services = createServices(config, conn, log);
  const report = await services.renewChannels();
  await services.close();
  if (report.failed.length > 0) {
    const first = report.failed[0];
    throw new Error(
      `${report.failed.length} of ${report.candidates} calendar(s) could not be given a channel (first: calendar ${first?.calendarId}: ${first?.error}); ${summary(report)}`,
    );
  }
  return summary(report);
});
