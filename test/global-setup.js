/**
 * Jest globalSetup: builds what the e2e specs serve or run, once per run (CI starts from a clean
 * checkout, where neither exists): the web pages (public/app/) for any e2e spec, and src/ compiled
 * into dist/ for the specs that start the real `node dist/main.js`.
 *
 * - Only when the run includes such a test: `npx jest src` does not pay for a build.
 * - `tsc -p tsconfig.json`, not `nest build`: nest-cli.json's deleteOutDir would pull dist/ from
 *   under a `node dist/main.js` that another run has started; tsc only overwrites.
 * - Each skipped when its output is newer than every file it is built from.
 */
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, readFileSync, statSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');

module.exports = async function globalSetup(globalConfig) {
  // Jest selects test files by matching this pattern (the CLI's paths) against absolute paths.
  const pattern = globalConfig.testPathPattern;
  const selects = (path) => !pattern || new RegExp(pattern, 'i').test(path);
  // Every e2e spec may open the bundled pages (/watch, /publish), which only the web build writes.
  const selected = e2eSpecs().filter(selects);
  if (selected.length > 0 && newest(join(ROOT, 'public', 'app'), /\.js$/) < newest(join(ROOT, 'web'), /\.(ts|html|css)$/)) {
    run('the web pages (public/app/)', [join(ROOT, 'scripts', 'build-web.mjs')]);
  }
  if (!selected.some((path) => /\bmain\.js\b/.test(readFileSync(path, 'utf8')))) return;
  const built = join(ROOT, 'dist', 'main.js');
  if (existsSync(built) && statSync(built).mtimeMs > newestSource()) return;
  run('src/ into dist/', [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);
};

function e2eSpecs() {
  return readdirSync(__dirname)
    .filter((name) => name.endsWith('.e2e-spec.ts'))
    .map((name) => join(__dirname, name));
}

function run(what, args) {
  const started = Date.now();
  try {
    execFileSync(process.execPath, args, { cwd: ROOT, stdio: 'pipe', encoding: 'utf8' });
  } catch (error) {
    throw new Error(`globalSetup: building ${what} failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`, { cause: error });
  }
  process.stderr.write(`\nglobalSetup: built ${what} in ${Date.now() - started} ms\n`);
}

/** The newest mtime of the files under `dir` whose names match (0 when there are none). */
function newest(dir, names) {
  let latest = 0;
  if (!existsSync(dir)) return latest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(path, names));
    else if (names.test(entry.name)) latest = Math.max(latest, statSync(path).mtimeMs);
  }
  return latest;
}

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
