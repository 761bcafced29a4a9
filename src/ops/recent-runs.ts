import { Types } from 'mongoose';
import type { SyncRunModel } from './sync-run.js';

export interface RecentRun {
  finishedAt: Date;
  mode: string;
  outcome: string;
  fallbackReason: string | null;
  tokenExpired: boolean;
  durationMs: number;
  apiCalls: number;
  eventsChanged: number;
  errorCode: string | null;
}

/** The latest stored runs of one calendar, newest first (index { calendarId, finishedAt }). */
export async function recentRuns(SyncRun: SyncRunModel, calendarId: string, opts: { limit: number; failedOnly?: boolean }): Promise<RecentRun[]> {
  if (!Types.ObjectId.isValid(calendarId)) return [];
  const filter: Record<string, unknown> = { calendarId: new Types.ObjectId(calendarId) };
  if (opts.failedOnly) filter.outcome = { $ne: 'ok' };
  const docs = await SyncRun.find(filter).sort({ finishedAt: -1 }).limit(opts.limit).lean();
  return docs.map((d) => ({
    finishedAt: d.finishedAt,
    mode: d.mode,
    outcome: d.outcome,
    fallbackReason: d.fallbackReason ?? null,
    tokenExpired: d.tokenExpired ?? false,
    durationMs: d.durationMs,
    apiCalls: d.apiCalls ?? 0,
    eventsChanged: d.eventsChanged ?? 0,
    errorCode: d.errorCode ?? null,
  }));
}
