import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../services.js';
import { channelModel } from '../channels/channel-model.js';
import { refreshFleetGauges } from '../metrics/fleet-gauges.js';

/** GET /metrics: Prometheus text format. Fleet gauges are refreshed from MongoDB at scrape time. */
export const metricsRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  const { metrics, models } = services;
  const sources = { Calendar: models.Calendar, Channel: channelModel(models.Calendar.db) };
  app.get('/metrics', { logLevel: 'warn' }, async (_req, reply) => {
    await refreshFleetGauges(metrics, sources);
    metrics.subscriptionsFailing.set((await services.subscriptions.counts()).failing);
    for (const [status, n] of Object.entries(await services.accounts.countByStatus())) metrics.accounts.set({ status }, n);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
};
