import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../services.js';

/** GET /metrics: Prometheus text format. Fleet gauges are refreshed from MongoDB at scrape time. */
export const metricsRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  const { metrics, models } = services;
  app.get('/metrics', { logLevel: 'warn' }, async (_req, reply) => {
    const rows = await models.Calendar.aggregate<{ _id: { state: string; mode: string }; n: number }>([
      { $group: { _id: { state: '$state', mode: '$mode' }, n: { $sum: 1 } } },
    ]);
    metrics.calendars.reset();
    for (const r of rows) metrics.calendars.set({ state: r._id.state, mode: r._id.mode }, r.n);
    metrics.subscriptionsFailing.set((await services.subscriptions.counts()).failing);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
};
