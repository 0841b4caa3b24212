import { ClassConstructor, plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { BadRequestError, ClientError } from '../common/errors';

/**
 * Above real payloads (a device's rtpCapabilities or a simulcast rtpParameters run to ~10 KB) and
 * well below socket.io's maxHttpBufferSize (which disconnects without an answer).
 */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
export const SOCKET_MAX_HTTP_BUFFER_SIZE = 1024 * 1024;

export class PayloadTooLargeError extends ClientError {
  readonly code = 'PAYLOAD_TOO_LARGE';
}

/** Validates one socket payload into its DTO; unknown fields (e.g. appData) are stripped, not rejected. */
export function parsePayload<T extends object>(dto: ClassConstructor<T>, payload: unknown): T {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new BadRequestError(`payload must be an object, got ${payload === null ? 'null' : Array.isArray(payload) ? 'an array' : typeof payload}`);
  }
  const instance = plainToInstance(dto, payload);
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: false, forbidUnknownValues: false });
  if (errors.length > 0) throw new BadRequestError(`invalid payload: ${describe(errors).join('; ')}`);
  return instance;
}

export function checkPayloadSize(payload: unknown): void {
  if (payload === undefined) return;
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(payload) ?? '');
  } catch {
    throw new BadRequestError('payload is not serializable');
  }
  if (size > MAX_PAYLOAD_BYTES) {
    throw new PayloadTooLargeError(`payload of ${size} bytes exceeds the limit of ${MAX_PAYLOAD_BYTES}`);
  }
}

function describe(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((error) => {
    const path = prefix + error.property;
    const own = Object.values(error.constraints ?? {});
    return [...own, ...describe(error.children ?? [], `${path}.`)].map((m) => (own.includes(m) && prefix ? `${path}: ${m}` : m));
  });
}
