import { LoggerService, LogLevel } from '@nestjs/common';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
/** Names log shippers expect (pino's). */
const LEVEL_NAMES: Record<LogLevel, string> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};
const PEER_ID = /\[peer:([A-Za-z0-9_-]+)/;
const STREAM_ID = /\[stream:([A-Za-z0-9_-]+)/;

/**
 * One JSON object per line on stdout, for production log pipelines. Lines about a peer or a stream
 * carry its id as a field (`peerId`, `streamId`), taken from the `[peer:<id>]` / `[stream:<id>]`
 * prefix every such message has.
 */
export class JsonLogger implements LoggerService {
  private enabled: Set<LogLevel>;

  constructor(
    level: LogLevel,
    private readonly write: (line: string) => void = (line) => process.stdout.write(line),
  ) {
    this.enabled = new Set(LEVELS.slice(0, LEVELS.indexOf(level) + 1));
  }

  setLogLevels(levels: LogLevel[]): void {
    this.enabled = new Set(levels);
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.emit('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.emit('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.emit('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.emit('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.emit('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.emit('fatal', message, rest);
  }

  private emit(level: LogLevel, message: unknown, rest: unknown[]): void {
    if (!this.enabled.has(level)) return;
    // Nest passes the context last; an error's stack (for error()) comes before it.
    const context = typeof rest.at(-1) === 'string' ? (rest.at(-1) as string) : undefined;
    const stack = level === 'error' && rest.length > 1 && typeof rest[0] === 'string' ? rest[0] : undefined;
    const record: Record<string, unknown> = { time: new Date().toISOString(), level: LEVEL_NAMES[level], pid: process.pid };
    if (context) record.context = context;
    if (message instanceof Error) {
      record.msg = message.message;
      record.stack = message.stack;
    } else if (typeof message === 'object' && message !== null) {
      Object.assign(record, message);
    } else {
      record.msg = String(message);
    }
    for (const [field, pattern] of [
      ['peerId', PEER_ID],
      ['streamId', STREAM_ID],
    ] as const) {
      const id = typeof record.msg === 'string' ? pattern.exec(record.msg)?.[1] : undefined;
      if (id && record[field] === undefined) record[field] = id;
    }
    if (stack) record.stack = stack;
    this.write(JSON.stringify(record) + '\n');
  }
}
