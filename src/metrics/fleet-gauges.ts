import type { CalendarModel } from '../models/calendar.js';
import type { ChannelModel } from '../channels/channel-model.js';
import type { Metrics } from './registry.js';

export interface FleetGaugeSources {
  Calendar: CalendarModel;
  Channel: ChannelModel;
}

/**
 * Refreshes the fleet-wide gauges from MongoDB at scrape time: one `$group` per collection, so a
 * scrape costs two aggregate queries whatever the fleet size; each reads its whole collection, so
 * their time grows with the fleet (once per scrape, never per ping or per tick).
 * Every replica reports the same fleet values; dashboards and alerts take `max` over instances.
 */
export async function refreshFleetGauges(metrics: Metrics, { Calendar, Channel }: FleetGaugeSources, now = new Date()): Promise<void> {
  // A sync lease is held while it has an owner and its expiry (src/sync/sync-state.ts) is ahead.
  const leaseHeld = { $and: [{ $eq: [{ $type: '$syncHeldBy' }, 'string'] }, { $gt: ['$syncNotBefore', now] }] };
  const [calendars, channels] = await Promise.all([
    Calendar.aggregate<{ _id: { state: string; mode: string }; n: number; leased: number }>([
      { $group: { _id: { state: '$state', mode: '$mode' }, n: { $sum: 1 }, leased: { $sum: { $cond: [leaseHeld, 1, 0] } } } },
    ]),
    Channel.aggregate<{ _id: string; n: number; earliestExpiry: Date | null }>([
      { $group: { _id: '$status', n: { $sum: 1 }, earliestExpiry: { $min: '$expiration' } } },
    ]),
  ]);

  metrics.calendars.reset();
  for (const r of calendars) metrics.calendars.set({ state: r._id.state, mode: r._id.mode }, r.n);
  metrics.leasesHeld.set({ kind: 'sync' }, calendars.reduce((sum, r) => sum + r.leased, 0));

  metrics.channels.reset();
  metrics.channelEarliestExpiry.reset();
  for (const r of channels) {
    metrics.channels.set({ status: r._id }, r.n);
    if (r._id === 'active' && r.earliestExpiry) metrics.channelEarliestExpiry.set({ status: 'active' }, r.earliestExpiry.getTime() / 1000);
  }
}
