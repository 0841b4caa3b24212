/**
 * Every HLS file name and URL, in one place. The original layout stays:
 *   <id>.m3u8                 master
 *   <id>-<rendition>.m3u8     media playlist (rendition `video`, `audio`)
 *   <rendition>_<id>_NNN.ts   segment (NNN zero-padded to at least 3 digits)
 * Stream ids match [A-Za-z0-9_-] and never end in -video/-audio, so names of two streams cannot
 * collide. Names that later capabilities add contain a `.`, which ids cannot.
 */
export const LIVE_PREFIX = '/live';

/** How long players and caches may keep a segment (`Cache-Control: public, max-age=…, immutable`). */
export const SEGMENT_MAX_AGE_SECONDS = 3600;

export const masterPlaylistName = (streamId: string) => `${streamId}.m3u8`;
export const mediaPlaylistName = (streamId: string, rendition: string) => `${streamId}-${rendition}.m3u8`;
export const segmentName = (streamId: string, rendition: string, number: number) =>
  `${rendition}_${streamId}_${String(number).padStart(3, '0')}.ts`;

/**
 * A recording (HLS_RETENTION_SECONDS=-1): VOD playlists of a stream from its first segment, named by
 * the stream's start so a later stream of the same name never overwrites them.
 */
export const recordingTag = (startedAt: Date) =>
  `rec-${startedAt
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
export const recordingMasterName = (streamId: string, tag: string) => `${streamId}.${tag}.m3u8`;
export const recordingPlaylistName = (streamId: string, rendition: string, tag: string) => `${streamId}-${rendition}.${tag}.m3u8`;

export const liveUrl = (name: string) => `${LIVE_PREFIX}/${name}`;
export const masterPlaylistUrl = (streamId: string) => liveUrl(masterPlaylistName(streamId));
export const mediaPlaylistUrl = (streamId: string, rendition: string) => liveUrl(mediaPlaylistName(streamId, rendition));

/** A name /live may serve: plain names, no separators, one dot before the extension (or a rendition's). */
const SERVABLE = /^[A-Za-z0-9_-]{1,128}(\.[A-Za-z0-9_-]{1,32})?\.(m3u8|ts)$/;

export type HlsFileType = 'playlist' | 'segment';

/** What /live may serve by name, or undefined for anything else (checked before the disk is touched). */
export function servableFile(name: string): HlsFileType | undefined {
  const match = SERVABLE.exec(name);
  if (!match) return undefined;
  return match[2] === 'm3u8' ? 'playlist' : 'segment';
}

/** The segment number in a segment name, e.g. 7 for `video_abc_007.ts`. */
export function segmentNumber(name: string): number | undefined {
  const match = /_(\d+)\.ts$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Rendition names: `video`, `audio`, and (later capabilities) ones with a dotted suffix, `video.r1`. */
const RENDITION = '(?:video|audio)(?:\\.[a-z0-9]+)*';
const PLAYLIST_SUFFIX = new RegExp(`^${RENDITION}\\.m3u8$`);
const SEGMENT = new RegExp(`^${RENDITION}_(.+)_(\\d+)\\.ts$`);

/** The stream a segment file belongs to, or undefined for other names. */
export function segmentStream(name: string): string | undefined {
  return SEGMENT.exec(name)?.[1];
}

/**
 * The stream a servable name belongs to, whatever the layout: a master (`<id>.m3u8`), a media
 * playlist (`<id>-<rendition>.m3u8`), a segment (`<rendition>_<id>_NNN.ts`), or any name that later
 * capabilities add after a `.` (`<id>.rec-….m3u8`, `<id>-video.ll.m3u8`, …). Undefined for other names.
 * Used to route a request to the node that has the stream.
 */
export function streamOfFile(name: string): string | undefined {
  if (!SERVABLE_ANY.test(name)) return undefined;
  const segment = SEGMENT.exec(name);
  if (segment) return segment[1];
  const head = name.slice(0, name.indexOf('.'));
  const rendition = /^(.+)-(?:video|audio)$/.exec(head);
  return rendition ? rendition[1] : head || undefined;
}

/** Any plain name with a known extension: HLS files and the formats later capabilities add. */
const SERVABLE_ANY = /^[A-Za-z0-9_-]{1,128}(\.[A-Za-z0-9_-]{1,32})*\.(m3u8|ts|mp4|m4s)$/;

/** Whether `name` is one of `streamId`'s files (any rendition, any number); used for clean-up. */
export function belongsTo(streamId: string, name: string): boolean {
  if (name === masterPlaylistName(streamId)) return true;
  if (name.startsWith(`${streamId}-`) && PLAYLIST_SUFFIX.test(name.slice(streamId.length + 1))) return true;
  return SEGMENT.exec(name)?.[1] === streamId;
}

/** Names of the files a previous run may have left behind (all streams). */
export function isHlsFile(name: string): boolean {
  return /\.m3u8(\.tmp)?$/.test(name) || SEGMENT.test(name);
}

/**
 * Low-Latency HLS (served from memory, never written to HLS_DIR). Every name has `.ll.` after the
 * stream id or `<id>-<rendition>`, so none can be a classic name or another stream's:
 *   <id>.ll.m3u8                                 LL master
 *   <id>-<rendition>.ll.m3u8                     LL media playlist
 *   <id>-<rendition>.ll.<epoch>.i<run>.mp4       init section of a run (EXT-X-MAP)
 *   <id>-<rendition>.ll.<epoch>.p<N>.m4s         part N (a counter of the rendition, across segments and runs)
 *   <id>-<rendition>.ll.<epoch>.s<msn>.m4s       whole segment (msn = the classic segment's number)
 * `<epoch>` names one packaging of a stream (base 36 of its start time): parts and segments are cached
 * as immutable, so a stream published again under the same name must not reuse their URLs.
 */
export const llMasterPlaylistName = (streamId: string) => `${streamId}.ll.m3u8`;
export const llMediaPlaylistName = (streamId: string, rendition: string) => `${streamId}-${rendition}.ll.m3u8`;
export const llInitName = (streamId: string, rendition: string, epoch: string, run: number) =>
  `${streamId}-${rendition}.ll.${epoch}.i${run}.mp4`;
export const llPartName = (streamId: string, rendition: string, epoch: string, part: number) =>
  `${streamId}-${rendition}.ll.${epoch}.p${part}.m4s`;
export const llSegmentName = (streamId: string, rendition: string, epoch: string, msn: number) =>
  `${streamId}-${rendition}.ll.${epoch}.s${msn}.m4s`;
export const llMasterPlaylistUrl = (streamId: string) => liveUrl(llMasterPlaylistName(streamId));
export const llMediaPlaylistUrl = (streamId: string, rendition: string) => liveUrl(llMediaPlaylistName(streamId, rendition));

export type LlName =
  | { type: 'master'; streamId: string }
  | { type: 'playlist'; streamId: string; rendition: string }
  | { type: 'init' | 'part' | 'segment'; streamId: string; rendition: string; epoch: string; number: number };

const LL_MASTER = /^([A-Za-z0-9_-]{1,128})\.ll\.m3u8$/;
const LL_RENDITION = `([A-Za-z0-9_-]{1,128}?)-(${RENDITION})\\.ll\\.`;
const LL_PLAYLIST = new RegExp(`^${LL_RENDITION}m3u8$`);
const LL_MEDIA = new RegExp(`^${LL_RENDITION}([0-9a-z]{1,12})\\.(?:(i)([0-9]{1,9})\\.mp4|([ps])([0-9]{1,15})\\.m4s)$`);
const LL_KINDS = { i: 'init', p: 'part', s: 'segment' } as const;

/** What an LL name means, or undefined for any other name (checked before anything is looked up). */
export function parseLlName(name: string): LlName | undefined {
  // A rendition's playlist first: `<id>-video.ll.m3u8` also looks like the master of a stream `<id>-video`,
  // a name no stream can have (reserved suffix).
  let match = LL_PLAYLIST.exec(name);
  if (match) return { type: 'playlist', streamId: match[1], rendition: match[2] };
  match = LL_MASTER.exec(name);
  if (match) return { type: 'master', streamId: match[1] };
  match = LL_MEDIA.exec(name);
  if (!match) return undefined;
  const kind = (match[4] ?? match[6]) as keyof typeof LL_KINDS;
  return { type: LL_KINDS[kind], streamId: match[1], rendition: match[2], epoch: match[3], number: Number(match[5] ?? match[7]) };
}

/** Whether `name` is a Low-Latency name (contains `.ll.`): those are served from memory, never from HLS_DIR. */
export const isLlName = (name: string): boolean => name.includes('.ll.');
