import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IceCandidate, IceParameters } from 'mediasoup/node/lib/WebRtcTransport';
import { appConfig, AppConfig } from '../../config/app.config';
import { errorMessage } from '../../common/errors';
import { BusEvents, EventBus, OnBusEvent } from '../../events/events';
import { WorkerPoolService } from '../../mediasoup/worker-pool.service';
import { PeersService } from '../../peers/peers.service';
import { verifyPublishToken } from '../../streams/publish-token';
import type { PublisherIntent } from '../../streams/streams.service';
import { StreamsService } from '../../streams/streams.service';
import { TranscoderService } from '../../transcode/transcoder.service';
import { publishIntent } from '../publish-intent';
import { parseSdpFragment, restartAnswerFragment } from './sdp-fragment';
import { noCapacity, toWhipHttpError } from './whip-errors';
import { bearerToken, iceServerLinks, ifMatch, newEtag, newResourceId, unauthorized, WhipHttpError } from './whip-http';
import { negotiateWhipOffer } from './whip-negotiation';
import type { WhipTransportParameters } from './sdp-answer';
import { WhipResource } from './whip-resource';

/** What a 201 carries. */
export interface WhipCreated {
  resource: WhipResource;
  answer: string;
  /** `Link` values: the configured STUN/TURN servers (RFC 9725 §4.6). */
  links: string[];
}

/** The answer to a PATCH: 204 for trickled candidates, 200 with our new ICE credentials after a restart. */
export type WhipPatched = { status: 204 } | { status: 200; fragment: string; etag: string };

/**
 * The answer waits at most this long for FFmpeg to receive the new producers (see publish()); past it,
 * the client gets its answer anyway (its first keyframe interval may then be lost).
 */
export const RECEIVING_WAIT_MS = 3000;

/** The peer id of a WHIP publisher: its own namespace, so it never equals a socket.io id (20 characters). */
const newPeerId = (): string => `whip-${randomBytes(12).toString('base64url')}`;

/**
 * WHIP ingest (RFC 9725): turns an SDP offer into a peer of PeersService with one send transport and
 * a producer per offered m-section, publishing the stream named in the URL; the rest of the pipeline
 * cannot tell it from a socket.io publisher. Owns every WHIP session (WhipResource) from its POST to
 * its end: DELETE (an intentional end), the peer gone (DTLS failed or closed, nothing received for
 * PUBLISHER_TIMEOUT_SECONDS, its worker died: the named stream waits out its grace period), or
 * another publisher taking the stream over.
 */
@Injectable()
export class WhipService implements OnApplicationShutdown {
  private readonly logger = new Logger(WhipService.name);
  /** By resource id (the URL's last segment). */
  private readonly resources = new Map<string, WhipResource>();
  /** Active sessions by their peer. */
  private readonly byPeer = new Map<string, WhipResource>();

  constructor(
    @Inject(appConfig.KEY) private readonly config: AppConfig,
    private readonly peers: PeersService,
    private readonly streams: StreamsService,
    private readonly pool: WorkerPoolService,
    private readonly transcoder: TranscoderService,
    private readonly bus: EventBus,
  ) {}

  /**
   * POST /whip/<name>. Everything the request can get wrong is checked before anything is created:
   * the name (400), the token (401/403), the offer (400/422); then room for it (503), the name's
   * holder (409), and only then the peer, its transport and producers. A failure after that undoes
   * what this request made and nothing else.
   */
  async publish(name: string, authorization: string | undefined, sdp: string): Promise<WhipCreated> {
    const { intent, token } = await this.intentFor(name, authorization);
    const router = this.pool.aliveSlots()[0]?.router;
    if (!router) throw noCapacity('no media worker is running (one is being replaced); try again');
    // Every router has the same codecs: the offer is judged before a peer exists.
    const negotiation = negotiateWhipOffer(sdp, router.rtpCapabilities);
    const existing = this.streams.get(name);
    const taking = existing !== undefined && existing.state !== 'ended';
    if (!taking && !this.transcoder.hasRoomForStream()) {
      throw noCapacity('no FFmpeg ports left for another stream (FFMPEG_MIN_PORT..FFMPEG_MAX_PORT is full)');
    }

    const peerId = newPeerId();
    this.peers.join(peerId);
    this.streams.registerPublisher(peerId, intent);
    let admitted = false;
    let resource: WhipResource | undefined;
    try {
      const transport = (await this.peers.createTransport(peerId, false)) as WhipTransportParameters & { id: string };
      await this.streams.admitPublisher(peerId);
      admitted = true;
      await this.peers.connectTransport(peerId, transport.id, negotiation.dtlsParameters);
      const producerIds: string[] = [];
      const wanted = negotiation.producers.length;
      // Subscribed before producing: FFmpeg may start receiving them soon after.
      const receiving = this.bus.waitFor(
        'transcode.receiving',
        (e) => e.streamId === name && producerIds.length === wanted && producerIds.every((id) => e.producerIds.includes(id)),
        RECEIVING_WAIT_MS,
      );
      for (const plan of negotiation.producers) {
        producerIds.push(await this.peers.produce(peerId, plan.kind, plan.options.rtpParameters));
      }
      const { offer } = negotiation;
      const tagMid = offer.bundle?.[0] ?? offer.media[0].mid;
      const tag = offer.media.find((m) => m.mid === tagMid) ?? offer.media[0];
      resource = new WhipResource(
        newResourceId(),
        peerId,
        name,
        token,
        transport.id,
        producerIds,
        { ...offer.ice },
        { kind: tag.kind, mid: tag.mid },
        newEtag(),
      );
      this.resources.set(resource.id, resource);
      this.byPeer.set(peerId, resource);
      // The answer waits until FFmpeg receives these producers: a client's media starts once ICE and
      // DTLS are up (tens of ms after the answer), and what comes before FFmpeg listens is dropped.
      // A publisher that ignores keyframe requests (OBS) would lose its first keyframe interval.
      const started = Date.now();
      const ready = await receiving;
      if (resource.leaving || resource.state !== 'active') {
        throw noCapacity('the stream could not be transcoded (see the server log); try again');
      }
      if (!ready) this.logger.warn(`${resource.label} FFmpeg not receiving after ${Date.now() - started} ms; answering anyway`);
      const codecs = negotiation.producers.map((p) => `${p.kind} ${p.options.rtpParameters.codecs[0].mimeType.split('/')[1]}`).join(', ');
      this.logger.log(`${resource.label} WHIP session created (${codecs}${taking ? ', taking the stream over' : ''})`);
      return { resource, answer: negotiation.answer(transport), links: iceServerLinks(this.config.whip, name) };
    } catch (error) {
      // A stream this request took over waits for a publisher again (not ended by our failure);
      // one it started ends with it.
      const why = toWhipHttpError(error)?.message ?? errorMessage(error);
      // Its client never got a 201: the session is nobody's.
      if (resource) this.forget(resource);
      await this.peers.leave(peerId, `WHIP POST failed: ${why}`, !(admitted && taking));
      throw error;
    }
  }

  /** The 201 could not be delivered (the client went away mid-request): nobody will use this session. */
  async abandon(resource: WhipResource): Promise<void> {
    this.logger.warn(`${resource.label} the client left before its answer was sent; ending the session`);
    await this.close(resource, 'client left before the WHIP answer', true);
  }

  /**
   * DELETE: the publisher ends on purpose, the stream ends at once (no grace period). A session whose
   * peer was already gone still ends the stream that waits for it.
   */
  async end(name: string, id: string, authorization: string | undefined): Promise<void> {
    const resource = this.find(name, id);
    await this.checkAccess(resource, authorization);
    this.logger.log(`${resource.label} WHIP DELETE`);
    // A client closes its peer connection, then sends DELETE: the DTLS close may have made it gone just before.
    if (resource.leaving && !resource.leaving.intentional) await resource.leaving.done;
    if (resource.state === 'gone' || resource.leaving) {
      this.forget(resource);
      await this.streams.endParked(resource.peerId, 'WHIP DELETE (its connection had already gone)');
      return;
    }
    await this.close(resource, 'WHIP DELETE', true);
  }

  /**
   * PATCH with a trickle-ice-sdpfrag (RFC 9725 §4.3): candidates are taken and ignored (ICE-lite: the
   * client's checks tell us its addresses); new ICE credentials restart ICE with a new entity-tag.
   */
  async patch(
    name: string,
    id: string,
    authorization: string | undefined,
    ifMatchHeader: string | undefined,
    body: string,
  ): Promise<WhipPatched> {
    const resource = this.find(name, id);
    await this.checkAccess(resource, authorization);
    if (resource.state !== 'active' || resource.leaving) {
      throw new WhipHttpError(404, 'NOT_FOUND', 'this WHIP session has no connection any more: POST a new offer');
    }
    const condition = ifMatch(ifMatchHeader, resource.etag);
    if (condition === 'mismatch') {
      throw new WhipHttpError(
        412,
        'PRECONDITION_FAILED',
        `If-Match ${ifMatchHeader} does not match the session's entity-tag ${resource.etag} (an ICE restart changed it)`,
        {
          ETag: resource.etag,
        },
      );
    }
    const fragment = parseSdpFragment(body);
    const restart =
      fragment.ice !== undefined &&
      (fragment.ice.usernameFragment !== resource.remoteIce.usernameFragment || fragment.ice.password !== resource.remoteIce.password);
    if (!restart) return { status: 204 };
    if (condition !== 'any') {
      throw new WhipHttpError(
        412,
        'PRECONDITION_FAILED',
        'an ICE restart (new a=ice-ufrag/a=ice-pwd) must be sent with "If-Match: *" (RFC 9725 §4.3.2)',
        {
          ETag: resource.etag,
        },
      );
    }
    let ice: { iceParameters: IceParameters; iceCandidates: IceCandidate[] };
    try {
      ice = await this.peers.restartIce(resource.peerId, resource.transportId);
    } catch (error) {
      throw toWhipHttpError(error) ?? error;
    }
    resource.remoteIce = fragment.ice!;
    resource.etag = newEtag();
    this.logger.log(`${resource.label} ICE restart`);
    return { status: 200, etag: resource.etag, fragment: restartAnswerFragment(ice.iceParameters, ice.iceCandidates, resource.firstMedia) };
  }

  /** 404 unless /whip/<name>/<id> is a session (checked before its body is read). */
  assertExists(name: string, id: string): void {
    this.find(name, id);
  }

  /** Its transport received nothing for PUBLISHER_TIMEOUT_SECONDS: the publisher is gone. */
  @OnBusEvent('peer.timed-out')
  async onPeerTimedOut({ peerId, silentMs }: BusEvents['peer.timed-out']): Promise<void> {
    const resource = this.byPeer.get(peerId);
    if (resource) await this.close(resource, `nothing received for ${silentMs} ms`, false);
  }

  /** DTLS failed, or the client closed its peer connection without (yet) a DELETE: gone. */
  @OnBusEvent('peer.transport-failed')
  async onTransportFailed({ peerId, reason }: BusEvents['peer.transport-failed']): Promise<void> {
    const resource = this.byPeer.get(peerId);
    if (resource) await this.close(resource, reason, false);
  }

  /** However its peer left (also a worker's death, or shutdown): the session follows. */
  @OnBusEvent('peer.left')
  onPeerLeft({ peerId, intentional }: BusEvents['peer.left']): void {
    const resource = this.byPeer.get(peerId);
    if (!resource) return;
    this.byPeer.delete(peerId);
    // A gone publisher's session stays while its stream waits for it: a late DELETE still ends that stream.
    if (!intentional && this.streams.parkedStreamOf(peerId) !== undefined) resource.state = 'gone';
    else this.forget(resource);
  }

  /** Another publisher took the stream: an active session of it ends, a gone one is forgotten. */
  @OnBusEvent('stream.publisher-changed')
  async onPublisherChanged({ streamId, previousPublisherId }: BusEvents['stream.publisher-changed']): Promise<void> {
    this.forgetGone(streamId);
    const previous = previousPublisherId ? this.byPeer.get(previousPublisherId) : undefined;
    if (previous) await this.close(previous, 'another publisher took the stream over', true);
  }

  @OnBusEvent('stream.ended')
  onStreamEnded({ streamId }: BusEvents['stream.ended']): void {
    this.forgetGone(streamId);
  }

  /** Its stream could not be transcoded: nothing would come of its media, so the session ends (the client sees its connection close). */
  @OnBusEvent('stream.failed')
  async onStreamFailed({ publisherId, error }: BusEvents['stream.failed']): Promise<void> {
    const resource = this.byPeer.get(publisherId);
    if (resource) await this.close(resource, `HLS could not start: ${error}`, true);
  }

  onApplicationShutdown(): void {
    // PeersService closes every peer (intentionally) on its own shutdown.
    this.resources.clear();
    this.byPeer.clear();
  }

  /** The session at /whip/<name>/<id>: 404 for an id we never gave, one that ended, or another stream's. */
  private find(name: string, id: string): WhipResource {
    const resource = this.resources.get(id);
    if (!resource || resource.streamName !== name) {
      throw new WhipHttpError(404, 'NOT_FOUND', 'no WHIP session at this URL: it ended, or never existed');
    }
    return resource;
  }

  /** Ends the session's peer: intentional ends its stream, otherwise a named stream waits out its grace period. */
  private close(resource: WhipResource, reason: string, intentional: boolean): Promise<void> {
    if (resource.state !== 'active') return Promise.resolve();
    if (!resource.leaving) {
      if (intentional) this.forget(resource);
      resource.leaving = { intentional, done: this.peers.leave(resource.peerId, reason, intentional) };
    }
    return resource.leaving.done;
  }

  private forget(resource: WhipResource): void {
    if (this.resources.get(resource.id) === resource) this.resources.delete(resource.id);
    if (this.byPeer.get(resource.peerId) === resource) this.byPeer.delete(resource.peerId);
  }

  private forgetGone(streamId: string): void {
    for (const resource of this.resources.values()) {
      if (resource.streamName === streamId && resource.state === 'gone') this.forget(resource);
    }
  }

  /** The name (400) and the publish token (401/403, as for a socket.io handshake) of a POST. */
  private async intentFor(name: string, authorization: string | undefined): Promise<{ intent: PublisherIntent; token?: string }> {
    const token = bearerToken(authorization);
    if (this.config.streams.publishAuth === 'token' && token === undefined) {
      // The name first: a bad one is the clearer problem.
      await publishIntent(this.config, name, undefined);
      throw unauthorized(`publishing to "${name}" needs a publish token: send "Authorization: Bearer <token for ${name}>"`);
    }
    return { intent: await publishIntent(this.config, name, token), token };
  }

  /**
   * DELETE and PATCH: with PUBLISH_AUTH=token, the token of the POST or any valid token for the stream.
   * Without auth the unguessable URL is the only key.
   */
  private async checkAccess(resource: WhipResource, authorization: string | undefined): Promise<void> {
    if (this.config.streams.publishAuth !== 'token') return;
    const token = bearerToken(authorization);
    if (token === undefined)
      throw unauthorized(`this WHIP session needs its publish token: send "Authorization: Bearer <token for ${resource.streamName}>"`);
    if (resource.token !== undefined && sameToken(token, resource.token)) return;
    await verifyPublishToken(token, this.config.streams.jwtSecret, resource.streamName);
  }
}

function sameToken(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
