export { channelModel, CHANNEL_STATUSES, type ChannelStatus, type ChannelModel, type ChannelRecord } from './channel-model.js';
export { ChannelService, type ChannelServiceOptions, type EnsureResult, type RenewalReport } from './channel-service.js';
export type { ChannelLog, StopSummary } from './channel-stopper.js';
export { WEBHOOK_PATH, webhookAddress } from './channel-token.js';
