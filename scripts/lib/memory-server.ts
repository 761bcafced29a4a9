// mongodb-memory-server, used only when a real mongod binary is already on the machine:
// it would otherwise try to download one, which cannot work offline and fails slowly.
import { spawnSync } from 'node:child_process';
import { DryMongoBinary, MongoMemoryReplSet } from 'mongodb-memory-server';
import type { Log } from './child-server.js';
import type { RunningDb } from './secantusdb.js';

/** A mongod that needs no download: MONGOMS_SYSTEM_BINARY, the memory-server cache, or PATH. */
export async function findMongod(): Promise<string | undefined> {
  const cached = await DryMongoBinary.locateBinary(DryMongoBinary.getEnsuredOptions()).catch(() => undefined);
  if (cached) return cached;
  const which = spawnSync('sh', ['-c', 'command -v mongod'], { encoding: 'utf8' });
  const onPath = which.status === 0 ? which.stdout.trim() : '';
  return onPath || undefined;
}

export async function startMemoryServer(mongod: string, log: Log): Promise<RunningDb> {
  const start = MongoMemoryReplSet.create({
    replSet: { count: 1, storageEngine: 'wiredTiger', ip: '127.0.0.1' },
    binary: { systemBinary: mongod },
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`mongodb-memory-server did not start within 60 s (${mongod})`)), 60_000);
  });
  try {
    const replSet = await Promise.race([start, timeout]);
    log(`mongodb-memory-server replica set using ${mongod}`);
    return { uri: replSet.getUri(), stop: async () => void (await replSet.stop({ doCleanup: true, force: true })) };
  } finally {
    clearTimeout(timer);
  }
}
