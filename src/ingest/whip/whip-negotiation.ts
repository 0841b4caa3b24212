import type { RtpCapabilities } from 'mediasoup/node/lib/RtpParameters';
import type { DtlsParameters } from 'mediasoup/node/lib/WebRtcTransport';
import { planProducers, type WhipProducerPlan } from './produce-parameters';
import { buildWhipAnswer, remoteDtlsParameters, type WhipTransportParameters } from './sdp-answer';
import { parseWhipOffer, type WhipOffer } from './sdp-offer';

/** Everything a WHIP endpoint needs from an offer, decided before any mediasoup resource exists. */
export interface WhipNegotiation {
  offer: WhipOffer;
  /** One per accepted m-section, in offer order: `transport.produce(plan.options)`. */
  producers: WhipProducerPlan[];
  /** For `transport.connect({ dtlsParameters })`. */
  dtlsParameters: DtlsParameters;
  /** The SDP answer for the transport the media will arrive on (201 body, application/sdp). */
  answer(transport: WhipTransportParameters): string;
}

/**
 * Parses and checks a WHIP offer against the router's capabilities. Throws a WhipOfferError whose
 * `status` (400 or 422) and `message` are the HTTP answer:
 *
 *   const negotiation = negotiateWhipOffer(body, router.rtpCapabilities);
 *   const transport = await router.createWebRtcTransport({ webRtcServer });
 *   await transport.connect({ dtlsParameters: negotiation.dtlsParameters });
 *   for (const plan of negotiation.producers) await transport.produce(plan.options);
 *   res.status(201).type('application/sdp').send(negotiation.answer(transport));
 */
export function negotiateWhipOffer(sdp: string, routerCapabilities: RtpCapabilities): WhipNegotiation {
  const offer = parseWhipOffer(sdp);
  const producers = planProducers(offer, routerCapabilities);
  return {
    offer,
    producers,
    dtlsParameters: remoteDtlsParameters(offer),
    answer: (transport) => buildWhipAnswer(offer, producers, transport),
  };
}
