export class SseParser {
  constructor(onEvent: (type: string, data: any, id: string | undefined) => void);
  /** Any split of the stream's text; events are dispatched as their blank line arrives. */
  push(chunk: string): void;
}

export interface SseEvent {
  type: string;
  data: any;
  /** Date.now() when the event arrived. */
  at: number;
}

export class SseClient {
  constructor(url: string, options?: { onEvent?: (event: SseEvent) => void; headers?: Record<string, string> });
  readonly events: SseEvent[];
  /** Resolves when the response headers are in; rejects on a non-2xx answer or a failed connect. */
  readonly opened: Promise<void>;
  /** Resolves when the stream ends or is closed; rejects if it broke. */
  readonly ended: Promise<void>;
  find(type: string, peerId?: string): SseEvent | undefined;
  close(): void;
}
