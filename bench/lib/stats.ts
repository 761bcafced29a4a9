// Small numeric helpers shared by the scenarios: percentiles, deltas of emulator call counts,
// and formatting for the markdown tables.
import type { calendar_v3 } from 'googleapis';
import type { Emulator } from '../../src/emulator/index.js';

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array. */
/** The p-th percentile (nearest rank) of values sorted ascending. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? NaN,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    max: sorted.at(-1) ?? NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
  };
}

export const mean = (values: number[]): number => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN);

/** Counts emulator calls of one method across a block of work. */
export async function countCalls<T>(emu: Emulator, method: string, work: () => Promise<T>): Promise<{ result: T; calls: number; ms: number }> {
  const before = emu.stats()[method] ?? 0;
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  return { result, calls: (emu.stats()[method] ?? 0) - before, ms };
}

/** Wraps a client so that every events.list answer adds its item count to `counter.items`. */
export function countingClient(api: calendar_v3.Calendar, counter: { items: number }): calendar_v3.Calendar {
  const events = Object.create(api.events) as calendar_v3.Resource$Events;
  const list = api.events.list.bind(api.events) as (...args: unknown[]) => Promise<{ data: calendar_v3.Schema$Events }>;
  (events as unknown as { list: unknown }).list = async (...args: unknown[]) => {
    const res = await list(...args);
    counter.items += res.data.items?.length ?? 0;
    return res;
  };
  return { ...api, events } as calendar_v3.Calendar;
}

export const round = (v: number, digits = 0): number => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);
export const fmtMs = (v: number): string => (!Number.isFinite(v) ? 'n/a' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
export const fmtInt = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
export const fmtPct = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(1)} %` : 'n/a');
export const fmtMiB = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : 'n/a');

/** A markdown table from a header row and body rows. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
