import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * The dashboard's static files, served by the app itself (no CDN): uPlot from node_modules and our
 * own script and stylesheet. A fixed allow-list read once at start, so no request names a path.
 */
export interface Asset {
  body: Buffer;
  contentType: string;
}

const require = createRequire(import.meta.url);
const own = (name: string) => new URL(`./public/${name}`, import.meta.url);

export function loadAssets(): Map<string, Asset> {
  const files: [string, string | URL, string][] = [
    ['uPlot.iife.min.js', require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
    ['uPlot.min.css', require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'],
    ['dashboard.js', own('dashboard.js'), 'text/javascript; charset=utf-8'],
    ['dashboard.css', own('dashboard.css'), 'text/css; charset=utf-8'],
  ];
  return new Map(files.map(([name, path, contentType]) => [name, { body: readFileSync(path), contentType }]));
}
