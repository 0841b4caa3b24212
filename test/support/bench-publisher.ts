import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface BenchPublisherOptions {
  serverUrl: string;
  variant?: 'h264' | 'vp8' | 'audio';
  /** Keyframe interval of the pre-encoded video, in seconds (whole frames at 30 fps). */
  gopSeconds?: number;
  /** false: PLI/FIR are ignored, keyframes come only every gopSeconds (as OBS sends them). */
  answerKeyframeRequests?: boolean;
  startGop?: number;
}

export interface BenchPublisher {
  peerId: string;
  pid: number;
  /** Leaves: closes its peer connection and socket. Resolves once the process has exited. */
  stop(): Promise<void>;
  /** Vanishes without a word: no RTP, no socket.io pong (SIGSTOP). */
  freeze(): void;
  /** Ends the process at once (SIGKILL): the kernel closes its socket.io connection. */
  kill(): Promise<void>;
  readonly exited: Promise<number | null>;
}

/**
 * Starts one bench load-generator publisher (test/support/bench-publisher.mjs) in a process of its
 * own, and resolves once ICE, DTLS and its producers are up.
 */
export async function startBenchPublisher(options: BenchPublisherOptions, timeoutMs = 60_000): Promise<BenchPublisher> {
  const child: ChildProcess = spawn(process.execPath, [join(__dirname, 'bench-publisher.mjs'), JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > 50) stderr.shift();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! });
  let peerId = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(`not connected within ${timeoutMs} ms`), timeoutMs);
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`bench publisher: ${why}\n${stderr.join('\n')}`));
    };
    lines.on('line', (line) => {
      const message = JSON.parse(line);
      if (message.peerId) peerId = message.peerId;
      if (message.connected) {
        clearTimeout(timer);
        resolve();
      }
      if (message.error) fail(message.error);
    });
    void exited.then((code) => fail(`exited with ${code} before connecting`));
  });
  const signal = (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
  };
  return {
    peerId,
    pid: child.pid!,
    exited,
    async stop() {
      signal('SIGCONT');
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
    freeze: () => signal('SIGSTOP'),
    async kill() {
      signal('SIGKILL');
      await exited;
    },
  };
}
