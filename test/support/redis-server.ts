import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const READY_LINE = /Ready to accept connections/;
const START_DEADLINE_MS = 15_000;

/** A free TCP port on 127.0.0.1 (the kernel picks one; it is released before redis-server binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A real redis-server of the test's own, on loopback, with nothing persisted (`--save ''
 * --appendonly no`, its working directory a fresh temporary one): a restart is empty, like a
 * Redis that lost its data.
 */
export class RedisServer {
  private process?: ChildProcess;
  private output = '';
  private readonly dir = mkdtempSync(join(tmpdir(), 'redis-test-'));

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process !== undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  static async start(port?: number): Promise<RedisServer> {
    const server = new RedisServer(port ?? (await freePort()));
    await server.spawn();
    return server;
  }

  /** Starts it again on the same port (empty), resolving once it accepts connections. */
  async restart(): Promise<void> {
    if (this.running) throw new Error('redis-server is still running');
    await this.spawn();
  }

  /** SIGKILL: the server vanishes without closing anything cleanly. Resolves on its exit. */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  /** SIGSTOP: the server keeps its connections open but answers nothing (a hung Redis). */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.resume();
    await this.signal('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  private spawn(): Promise<void> {
    this.output = '';
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--loglevel', 'notice'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.process = child;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const fail = (why: string) => {
        clearTimeout(deadline);
        child.kill('SIGKILL');
        reject(new Error(`redis-server on port ${this.port} ${why}; output:\n${this.output}`));
      };
      const deadline = setTimeout(() => fail(`not ready after ${START_DEADLINE_MS} ms`), START_DEADLINE_MS);
      // Both pipes are read for the server's whole life: a full pipe would block its logging.
      const onData = (chunk: Buffer) => {
        this.output = (this.output + chunk.toString()).slice(-4000);
        if (!ready && READY_LINE.test(this.output)) {
          ready = true;
          clearTimeout(deadline);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (error) => fail(`failed to start: ${error.message}`));
      child.once('exit', (code, signal) => {
        if (!ready) fail(`exited before ready (code ${code}, signal ${signal})`);
      });
    });
  }
}
