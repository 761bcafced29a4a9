import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The repository root (this file lives in <repo>/scripts/lib/). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Project-local, gitignored cache for databases the project installs itself. */
export const cacheDir = path.join(repoRoot, '.cache');
