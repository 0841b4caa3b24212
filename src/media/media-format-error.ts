/** Thrown by the media parsers when bytes do not form what they claim to be (truncated or corrupt). */
export class MediaFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MediaFormatError';
  }
}
