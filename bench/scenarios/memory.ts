// Scenario 3: memory with a large change set. One big calendar in the emulator (this process);
// each approach runs its full sync in a fresh child process (`node --expose-gc --import tsx
// bench/scenarios/memory-child.ts`) with its own empty mirror, so its memory numbers start clean.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../../src/emulator/index.js';
import { REFRESH_TOKEN, seedEvents } from '../lib/setup.js';
import type { MemoryChildInput, MemoryChildOutput } from './memory-child.js';

export interface MemoryOptions {
  events: number;
}

export interface MemoryResult {
  options: MemoryOptions;
  runs: Array<MemoryChildOutput & { rssGrowth: number; heapGrowth: number; liveHeapGrowth: number; eventsPerSec: number }>;
}

const CHILD = fileURLToPath(new URL('./memory-child.ts', import.meta.url));
const GCAL = 'bench-memory@group.calendar.google.com';

export async function runMemory(dbBaseUri: string, opts: MemoryOptions, log: (m: string) => void): Promise<MemoryResult> {
  const emu = await startEmulator();
  try {
    emu.addAccount(REFRESH_TOKEN);
    emu.createCalendar(GCAL);
    seedEvents(emu, GCAL, opts.events);
    const runs: MemoryResult['runs'] = [];
    for (const mode of ['engine', 'seed'] as const) {
      const out = await runChild({ mode, emulatorUrl: emu.url, dbBaseUri, googleCalendarId: GCAL });
      if (out.events !== opts.events) throw new Error(`${mode}: mirrored ${out.events} of ${opts.events} events`);
      runs.push({
        ...out,
        rssGrowth: out.peak.rss - out.baseline.rss,
        heapGrowth: out.peak.heapUsed - out.baseline.heapUsed,
        liveHeapGrowth: out.peakLiveHeap - out.baseline.heapUsed,
        eventsPerSec: out.events / (out.wallMs / 1000),
      });
      log(`memory ${mode}: ${out.events} events in ${Math.round(out.wallMs)} ms, peak RSS +${((out.peak.rss - out.baseline.rss) / 2 ** 20).toFixed(1)} MiB, live heap +${((out.peakLiveHeap - out.baseline.heapUsed) / 2 ** 20).toFixed(1)} MiB`);
    }
    return { options: opts, runs };
  } finally {
    await emu.close();
  }
}

function runChild(input: MemoryChildInput): Promise<MemoryChildOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, JSON.stringify(input)], {
      cwd: path.resolve(path.dirname(CHILD), '..', '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) return reject(new Error(`memory child (${input.mode}) exited ${code}: ${stderr.slice(-2000)}`));
      resolve(JSON.parse(line) as MemoryChildOutput);
    });
  });
}
