/** Where a stream's WHIP endpoint and its sessions live: `/whip/<stream>` and `/whip/<stream>/<resource id>`. */
export const WHIP_PATH = '/whip';

export const whipEndpointPath = (stream: string): string => `${WHIP_PATH}/${stream}`;
export const whipResourcePath = (stream: string, id: string): string => `${WHIP_PATH}/${stream}/${id}`;

/**
 * `active`: its peer publishes (or is connecting). `gone`: its peer left without meaning to (killed
 * client, lost network, DTLS closed) and its named stream waits for a publisher: a late DELETE still
 * ends that stream at once.
 */
export type WhipResourceState = 'active' | 'gone';

/**
 * One WHIP session (RFC 9725 §4.2 "WHIP session"), owned by WhipService: the peer publishing through
 * it, that peer's send transport and producers (PeersService holds the mediasoup objects and closes
 * them when the peer leaves), its entity-tag and the unguessable id in its URL.
 */
export class WhipResource {
  state: WhipResourceState = 'active';
  /** Set once its peer is told to leave (once only): whether on purpose, and when that is done. */
  leaving?: { intentional: boolean; done: Promise<void> };

  constructor(
    /** 192 random bits: the URL is the capability to end or patch this session. */
    readonly id: string,
    readonly peerId: string,
    readonly streamName: string,
    /** The bearer token of the POST: DELETE and PATCH may present it again, even once it has expired. */
    readonly token: string | undefined,
    readonly transportId: string,
    readonly producerIds: string[],
    /** The client's ICE credentials: a PATCH with other ones is an ICE restart. */
    public remoteIce: { usernameFragment: string; password: string },
    /** The m-section an ICE restart answer names (the BUNDLE's first). */
    readonly firstMedia: { kind: string; mid: string },
    /** Changes with each ICE session (RFC 9725 §4.3.1). */
    public etag: string,
    readonly createdAt = new Date(),
  ) {}

  get location(): string {
    return whipResourcePath(this.streamName, this.id);
  }

  /** For logs: enough to tell sessions apart, never the id (it is the capability). */
  get label(): string {
    return `[stream:${this.streamName} peer:${this.peerId}]`;
  }
}
