import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './app';
import { randomPortEnv } from './ports';
import { freePort } from './redis-server';

const ROOT = join(__dirname, '..', '..');

/**
 * One node of a cluster as its own process: `node dist/main.js` (built by test/global-setup.js) with
 * its own HTTP port, port blocks and HLS directory, listening on 127.0.0.1. Started in a process
 * group of its own, so that after a SIGKILL (a crashed node) whatever it left running is cleaned up.
 */
export class NodeProcess {
  private output = '';
  /** Everything it printed, kept in a file (its path is in `logFile`) for looking into a run afterwards. */
  private readonly file: WriteStream;
  private readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly id: string,
    readonly port: number,
    readonly hlsDir: string,
    private readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.file = createWriteStream(logFile);
    const keep = (chunk: Buffer) => {
      this.file.write(chunk);
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.file.end();
        resolve({ code, signal });
      }),
    );
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last 20 KB it printed, for failure messages. */
  get log(): string {
    return this.output;
  }

  /** Starts a node and resolves once its readiness probe answers 200. */
  static async start(id: string, env: Record<string, string>): Promise<NodeProcess> {
    const port = await freePort();
    const hlsDir = mkdtempSync(join(tmpdir(), `cluster-${id}-`));
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        ANNOUNCED_IP: '127.0.0.1',
        PORT: String(port),
        NODE_ID: id,
        NODE_ADDRESS: `http://127.0.0.1:${port}`,
        HLS_DIR: hlsDir,
        MEDIASOUP_WORKERS: '1',
        SHUTDOWN_GRACE_MS: '0',
        LOG_LEVEL: 'log',
        ...randomPortEnv(),
        ...env,
      },
    });
    const node = new NodeProcess(id, port, hlsDir, child, `${hlsDir}.log`);
    try {
      await waitFor(
        `node ${id} ready`,
        async () => {
          if (!node.running) throw new Error(`exited: ${node.output.slice(-2000)}`);
          return (await fetch(`${node.url}/health/ready`)).ok;
        },
        60_000,
        200,
      );
    } catch (error) {
      await node.kill();
      throw new Error(`${(error as Error).message}\n--- node ${id} output ---\n${node.output.slice(-4000)}`, { cause: error });
    }
    return node;
  }

  /** SIGKILL, as a crash: the node says nothing to anyone. Resolves once it and its children are gone. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exit;
    this.killGroup();
  }

  /** SIGTERM (a graceful stop), then SIGKILL if it is still there after `withinMs`. */
  async stop(withinMs = 20_000): Promise<void> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), withinMs);
      await this.exit;
      clearTimeout(timer);
    }
    this.killGroup();
  }

  removeFiles(): void {
    rmSync(this.hlsDir, { recursive: true, force: true });
  }

  /** Whatever is left of its process group (its mediasoup worker, FFmpeg), now that it is gone. */
  private killGroup(): void {
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // The group is already empty.
    }
  }
}
