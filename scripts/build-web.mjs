#!/usr/bin/env node
// Builds the publish and watch pages into public/app/ (served by src/web/): bundles web/*.ts with
// esbuild (minified, source maps, ES2020), copies the HTML, CSS and hls.js's worker, prints sizes.
// No network: everything comes from web/ and node_modules/.
import { build } from 'esbuild';
import { copyFile, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const webDir = join(root, 'web');
const outDir = join(root, 'public', 'app');
const require = createRequire(import.meta.url);

const started = Date.now();
await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });

try {
  await build({
    entryPoints: { publish: join(webDir, 'publish.ts'), watch: join(webDir, 'watch.ts') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: true,
    legalComments: 'linked',
    tsconfig: join(webDir, 'tsconfig.json'),
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
} catch {
  // esbuild has already printed the errors with their locations.
  process.exit(1);
}

const statics = (await readdir(webDir)).filter((name) => /\.(html|css)$/.test(name));
for (const name of statics) await copyFile(join(webDir, name), join(outDir, name));
// hls.js's ESM build has no inline worker; given this file it transmuxes off the main thread.
const hlsDist = dirname(require.resolve('hls.js/dist/hls.worker.js'));
await copyFile(join(hlsDist, 'hls.worker.js'), join(outDir, 'hls.worker.js'));

const rows = [];
for (const name of (await readdir(outDir)).sort()) {
  if (name.endsWith('.map')) continue;
  const file = join(outDir, name);
  const bytes = (await stat(file)).size;
  const gzip = gzipSync(await readFile(file)).length;
  rows.push([relative(root, file), kb(bytes), kb(gzip)]);
}
const width = Math.max(...rows.map(([name]) => name.length));
console.log(`web pages built in ${Date.now() - started} ms:`);
for (const [name, size, gzip] of rows) console.log(`  ${name.padEnd(width)}  ${size.padStart(9)}  (${gzip} gzipped)`);

function kb(bytes) {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
