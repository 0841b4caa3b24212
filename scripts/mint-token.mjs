#!/usr/bin/env node
// Mints a publish token: `npm run -s token -- <stream-name> [--ttl <seconds>] [--secret-env <VARIABLE>]`.
// Prints the token alone on stdout (for `$(...)`), what it allows on stderr. Signs with the secret in the
// environment (PUBLISH_JWT_SECRET by default), never one on the command line, where `ps` and shell history
// would show it.
//
// The rules are the server's own, from src/streams/ (name validation, secret length, claims): esbuild
// bundles those TypeScript files in memory, so this needs no `npm run build` and cannot drift from them.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const USAGE = 'usage: npm run -s token -- <stream-name> [--ttl <seconds>] [--secret-env <VARIABLE>]';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Exit 2: the command line is wrong; exit 1: it is understood but refused. */
function fail(message, code = 1) {
  process.stderr.write(`mint-token: ${message}\n`);
  process.exit(code);
}

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: { ttl: { type: 'string' }, 'secret-env': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
} catch (error) {
  fail(`${error.message}\n${USAGE}`, 2);
}
if (args.values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (args.positionals.length !== 1) fail(`expected one stream name, got ${args.positionals.length}\n${USAGE}`, 2);

const streams = await loadStreams();
const [name] = args.positionals;
const nameError = streams.validateStreamName(name);
if (nameError) fail(nameError.message);

let ttlSeconds = streams.DEFAULT_PUBLISH_TOKEN_TTL_SECONDS;
if (args.values.ttl !== undefined) {
  ttlSeconds = Number(args.values.ttl);
  if (!/^\d+$/.test(args.values.ttl) || !Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
    fail(`--ttl must be a whole number of seconds (1 or more), got ${JSON.stringify(args.values.ttl)}`, 2);
  }
}

const variable = args.values['secret-env'] ?? streams.PUBLISH_SECRET_VARIABLE;
const secret = process.env[variable];
const secretProblem = streams.checkPublishSecret(secret, variable);
if (secretProblem) fail(secretProblem);

const now = new Date();
const token = await streams.signPublishToken(name, secret, { ttlSeconds, now });
process.stdout.write(`${token}\n`);
const expires = new Date(now.getTime() + ttlSeconds * 1000).toISOString();
process.stderr.write(`publish token for stream "${name}", signed with $${variable}, valid until ${expires} (${ttlSeconds} s)\n`);

/** src/streams/ bundled (jose included) into one ES module, imported from memory. */
async function loadStreams() {
  const bundle = await build({
    stdin: {
      contents: "export * from './src/streams/stream-name.ts'; export * from './src/streams/publish-token.ts';",
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'error',
  });
  const code = bundle.outputFiles[0].text;
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}
