import { ClassConstructor, plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { BadRequestError, ClientError } from '../../common/errors';

/**
 * Above real payloads (a device's rtpCapabilities or a simulcast rtpParameters run to ~10 KB) and
 * well below socket.io's maxHttpBufferSize (which disconnects without an answer).
 */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
export const SOCKET_MAX_HTTP_BUFFER_SIZE = 1024 * 1024;
/**
 * Real payloads nest 5 levels (rtpParameters → codecs → codec → rtcpFeedback → entry). Deeper ones
 * would only reach recursive code (class-transformer, the worker's JSON parser) for nothing.
 */
export const MAX_PAYLOAD_DEPTH = 16;

export class PayloadTooLargeError extends ClientError {
  readonly code = 'PAYLOAD_TOO_LARGE';
}

/** Validates one socket payload into its DTO; unknown fields (e.g. appData) are stripped, not rejected. */
export function parsePayload<T extends object>(dto: ClassConstructor<T>, payload: unknown): T {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload) || isBinary(payload)) {
    throw new BadRequestError(`payload must be an object, got ${kindOf(payload)}`);
  }
  const instance = plainToInstance(dto, payload);
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: false,
    forbidUnknownValues: false,
    stopAtFirstError: true,
  });
  if (errors.length > 0) throw new BadRequestError(`invalid payload: ${describe(errors).join('; ')}`);
  return instance;
}

/** Size and nesting bounds, checked for every event before anything else looks at the payload. */
export function checkPayloadLimits(payload: unknown): void {
  if (payload === undefined) return;
  // Depth first: JSON.stringify recurses, and overflows the stack a few thousand levels down.
  if (depthOf(payload) > MAX_PAYLOAD_DEPTH) {
    throw new BadRequestError(`payload nests deeper than ${MAX_PAYLOAD_DEPTH} levels`);
  }
  const size = isBinary(payload) ? payload.byteLength : jsonBytes(payload);
  if (size > MAX_PAYLOAD_BYTES) {
    throw new PayloadTooLargeError(`payload of ${size} bytes exceeds the limit of ${MAX_PAYLOAD_BYTES}`);
  }
}

function jsonBytes(payload: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(payload) ?? '');
  } catch {
    // Not expected once the depth is bounded: socket.io hands over parsed JSON (and Buffers).
    throw new BadRequestError('payload is not serializable');
  }
}

/** Iterative, so a deep payload cannot overflow the stack; stops at the limit. The payload is at most socket.io's 1 MB. */
function depthOf(payload: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[payload, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== 'object' || value === null || isBinary(value)) continue;
    max = Math.max(max, depth);
    if (max > MAX_PAYLOAD_DEPTH) break;
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return max;
}

/** socket.io delivers binary attachments as Buffers. */
function isBinary(value: unknown): value is ArrayBufferView | ArrayBuffer {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (isBinary(value)) return 'binary data';
  return typeof value;
}

function describe(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((error) => {
    const path = prefix + error.property;
    if (error.value === undefined) return [`${path} is missing`];
    const own = Object.values(error.constraints ?? {}).map((message) => (prefix ? `${path}: ${message}` : message));
    return [...own, ...describe(error.children ?? [], `${path}.`)];
  });
}
