/**
 * Jest globalSetup: compiles src/ into dist/ once per run, for the tests that start the real
 * `node dist/main.js` (CI starts from a clean checkout, where dist/ does not exist).
 *
 * - Only when the run includes such a test: `npx jest src/hls` does not pay for a build.
 * - `tsc -p tsconfig.json`, not `nest build`: nest-cli.json's deleteOutDir would pull dist/ from
 *   under a `node dist/main.js` that another run has started; tsc only overwrites.
 * - Skipped when dist/main.js is newer than every file it is built from.
 */
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, readFileSync, statSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');

/** The e2e specs that run the built server: those that mention `main.js` (e.g. `dist/main.js`). */
function specsNeedingDist() {
  return readdirSync(__dirname)
    .filter((name) => name.endsWith('.e2e-spec.ts'))
    .map((name) => join(__dirname, name))
    .filter((path) => /\bmain\.js\b/.test(readFileSync(path, 'utf8')));
}

module.exports = async function globalSetup(globalConfig) {
  // Jest selects test files by matching this pattern (the CLI's paths) against absolute paths.
  const pattern = globalConfig.testPathPattern;
  const selected = specsNeedingDist().some((path) => !pattern || new RegExp(pattern, 'i').test(path));
  if (!selected) return;
  const built = join(ROOT, 'dist', 'main.js');
  if (existsSync(built) && statSync(built).mtimeMs > newestSource()) return;

  const started = Date.now();
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], {
      cwd: ROOT,
      stdio: 'pipe',
      encoding: 'utf8',
    });
  } catch (error) {
    throw new Error(`globalSetup: tsc -p tsconfig.json failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`, { cause: error });
  }
  process.stderr.write(`\nglobalSetup: compiled src/ into dist/ in ${Date.now() - started} ms\n`);
};

function newestSource() {
  let newest = Math.max(...['tsconfig.json', 'package-lock.json'].map((file) => statSync(join(ROOT, file)).mtimeMs));
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  walk(join(ROOT, 'src'));
  return newest;
}
