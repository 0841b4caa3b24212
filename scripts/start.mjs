#!/usr/bin/env node
// `npm start`: builds, then runs the server (dist/main.js) in this very process, so that whoever stops
// `npm start` with SIGTERM or SIGINT (systemd, a Procfile runner, pm2, a CI step, Ctrl-C) stops the server
// gracefully and gets its exit code.
//
// Why not `npm run build && node dist/main.js`: npm 11 (@npmcli/run-script) runs a script as
// `sh -c '<script>'` and forwards SIGTERM and SIGINT to that shell only, never to its process group.
// dash (Debian's /bin/sh) forks every command of `a && b`, it does not exec the last one, and a
// non-interactive dash does not handle SIGTERM: it dies at once and passes nothing on. npm then sees its
// child killed and re-raises the signal on itself. `node dist/main.js` is left running, reparented, with
// its mediasoup workers, holding the port.
//
// So package.json runs `exec node scripts/start.mjs`: the shell replaces itself with this process, so
// npm's forwarded signal lands here. The server runs in this process rather than in a child: Nest's
// shutdown hooks receive the signal directly, nothing has to forward it a second time, and there is no
// child to orphan. The build runs in a process group of its own, so a stop during the build ends all of it
// (npm, sh, nest, tsc, esbuild), not only its top process, which would again orphan the rest.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Those npm forwards (SIGTERM, SIGINT) and a closing terminal's SIGHUP; the server handles the same. */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'];
/** A build that ignores SIGTERM this long is killed. */
const BUILD_KILL_AFTER_MS = 10_000;

const stoppedBy = await build();
if (stoppedBy) {
  process.stderr.write(`npm start: ${stoppedBy} during the build; build stopped, server not started\n`);
  // The stop that was asked for has happened and nothing is left running: a clean exit.
  process.exit(0);
}
// From here the server's own signal handling (Nest's shutdown hooks, main.ts's exit code) is in charge.
await import(pathToFileURL(join(root, 'dist', 'main.js')).href);

/** Runs `npm run build`; resolves with the signal that stopped it, or undefined once it has succeeded. */
async function build() {
  // The npm that runs us (it sets npm_execpath), else the one on PATH.
  const npmCli = process.env.npm_execpath;
  const [command, args] = npmCli ? [process.execPath, [npmCli, 'run', 'build']] : ['npm', ['run', 'build']];
  // detached: a new process group (and session), so one kill(-pgid) reaches every process of the build.
  // It leaves the terminal's group too, so Ctrl-C reaches the build only through the handler below.
  const child = spawn(command, args, { cwd: root, stdio: 'inherit', detached: true });
  let stopSignal;
  const onSignal = (signal) => {
    // Ctrl-C arrives twice, from the terminal and again forwarded by npm: one stop is enough.
    if (stopSignal) return;
    stopSignal = signal;
    killGroup(child.pid, 'SIGTERM');
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  const exit = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  // npm exits when its shell does; what the shell started may still be going (it was signalled too).
  await groupGone(child.pid);
  for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  if (stopSignal) return stopSignal;
  if (exit.code !== 0) {
    process.stderr.write(`npm start: the build failed (${exit.signal ?? `exit code ${exit.code}`}); server not started\n`);
    process.exit(exit.code || 1);
  }
  return undefined;
}

function killGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if (error.code !== 'ESRCH') throw error; // ESRCH: the group has already ended
  }
}

/**
 * Resolves when no process of group `pgid` is left; SIGKILLs the group if it outlasts BUILD_KILL_AFTER_MS.
 * A zombie counts as gone: it has exited, and its reaper (init, for what the build's shell left behind)
 * may take a second or two to collect it.
 */
async function groupGone(pgid) {
  const killAt = Date.now() + BUILD_KILL_AFTER_MS;
  while (groupAlive(pgid)) {
    if (Date.now() > killAt + 5000) {
      process.stderr.write(`npm start: build process group ${pgid} still listed 5 s after SIGKILL; going on\n`);
      return;
    }
    if (Date.now() > killAt) killGroup(pgid, 'SIGKILL');
    await delay(50);
  }
}

/** Whether a running (not zombie) process is in group `pgid`: from /proc, else from kill(-pgid, 0). */
function groupAlive(pgid) {
  if (!existsSync('/proc/self/stat')) {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch (error) {
      if (error.code === 'ESRCH') return false;
      throw error;
    }
  }
  return readdirSync('/proc').some((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      return false; // gone meanwhile
    }
    // After the command name, which may hold spaces and parentheses: state, ppid, pgrp.
    const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(group) === pgid && state !== 'Z';
  });
}
