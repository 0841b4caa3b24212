import { BadRequestError } from '../common/errors';

/** Longest stream name: it becomes part of file names and URLs (`<name>-video.m3u8`, `video_<name>_001.ts`). */
export const STREAM_NAME_MAX_LENGTH = 64;

/** `<name>-video.m3u8` and `<name>-audio.m3u8` are a stream's rendition playlists: a stream named `x-video` would collide with stream `x`'s. */
export const RESERVED_STREAM_NAME_SUFFIXES = ['-video', '-audio'] as const;

const ALLOWED_CHARACTER = /^[A-Za-z0-9_-]$/;

export type StreamNameProblem = 'NOT_A_STRING' | 'EMPTY' | 'TOO_LONG' | 'BAD_CHARACTER' | 'RESERVED_SUFFIX';

/** A refused stream name; `problem` says which rule it breaks, the message says how, for the publisher. */
export class StreamNameError extends BadRequestError {
  constructor(
    readonly problem: StreamNameProblem,
    message: string,
  ) {
    super(message);
    this.name = 'StreamNameError';
  }
}

/**
 * Why `value` cannot name a stream, or undefined when it can. Names match `[A-Za-z0-9_-]{1,64}` and do not
 * end in a reserved suffix. They contain no `.`, so files named `<name>.<something>` that later
 * capabilities add can never collide with another stream's either.
 */
export function validateStreamName(value: unknown): StreamNameError | undefined {
  if (typeof value !== 'string') {
    return new StreamNameError('NOT_A_STRING', `stream name must be a string, got ${value === null ? 'null' : typeof value}`);
  }
  if (value.length === 0) return new StreamNameError('EMPTY', 'stream name is empty; use 1 to 64 of A-Z, a-z, 0-9, _ and -');
  // Counted in UTF-16 units: every allowed character is one unit, so a name that passes has exactly this many characters.
  if (value.length > STREAM_NAME_MAX_LENGTH) {
    return new StreamNameError('TOO_LONG', `stream name is ${value.length} characters long; at most ${STREAM_NAME_MAX_LENGTH} are allowed`);
  }
  let position = 0;
  // By code point, so an emoji is reported as itself and not as half a surrogate pair.
  for (const character of value) {
    position += 1;
    if (!ALLOWED_CHARACTER.test(character)) {
      return new StreamNameError(
        'BAD_CHARACTER',
        `stream name ${JSON.stringify(value)} has a character that is not allowed at position ${position}: ${describeCharacter(character)}; ` +
          'use only A-Z, a-z, 0-9, _ and -',
      );
    }
  }
  // Case-insensitively: on a case-insensitive file system (a developer's macOS) `x-VIDEO.m3u8` is `x-video.m3u8`.
  const suffix = RESERVED_STREAM_NAME_SUFFIXES.find((reserved) => value.toLowerCase().endsWith(reserved));
  if (suffix) {
    return new StreamNameError(
      'RESERVED_SUFFIX',
      `stream name ${JSON.stringify(value)} ends in "${suffix}", which is reserved: ` +
        "a stream's rendition playlists are named <name>-video.m3u8 and <name>-audio.m3u8",
    );
  }
  return undefined;
}

/** Throws the StreamNameError if `value` cannot name a stream. */
export function assertStreamName(value: unknown): asserts value is string {
  const error = validateStreamName(value);
  if (error) throw error;
}

/** `"é" (U+00E9)`: the character itself when printable, always its code point (spaces and controls are invisible in a message). */
function describeCharacter(character: string): string {
  const codePoint = `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(character) ? `${JSON.stringify(character)} (${codePoint})` : codePoint;
}
