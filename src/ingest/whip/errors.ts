/** An offer the WHIP endpoint refuses; `status` is the HTTP status to answer with, `message` the body. */
export abstract class WhipOfferError extends Error {
  abstract readonly status: 400 | 422;
}

/** 400: the offer cannot be parsed, lacks what a WebRTC session needs, or has a shape we do not take. */
export class InvalidOfferError extends WhipOfferError {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'InvalidOfferError';
  }
}

/** 422: the offer is well formed, but a media section offers no codec the router can take. */
export class UnsupportedCodecError extends WhipOfferError {
  readonly status = 422;
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedCodecError';
  }
}
