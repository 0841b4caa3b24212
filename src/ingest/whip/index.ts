export { WhipOfferError, InvalidOfferError, UnsupportedCodecError } from './errors';
export { parseWhipOffer, HEADER_EXTENSION_URIS } from './sdp-offer';
export type {
  WhipOffer,
  OfferedMedia,
  OfferedCodec,
  OfferedEncoding,
  OfferedHeaderExtension,
  UnusedSection,
  OfferSection,
  MediaKind,
} from './sdp-offer';
export { planProducers, producerOptions, chooseCodec } from './produce-parameters';
export type { WhipProducerPlan } from './produce-parameters';
export { buildWhipAnswer, remoteDtlsParameters } from './sdp-answer';
export type { WhipTransportParameters } from './sdp-answer';
export { negotiateWhipOffer } from './whip-negotiation';
export type { WhipNegotiation } from './whip-negotiation';
