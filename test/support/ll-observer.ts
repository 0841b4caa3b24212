import type { Page, Response } from 'playwright-core';
import { parseLlName } from '../../src/packaging/hls-names';
import {
  checkLlMediaPlaylist,
  checkLlRenditionSet,
  checkMasterPlaylist,
  compareLlReloads,
  formatViolations,
  masterMediaUris,
  parseLlMediaPlaylist,
  Violation,
} from './ll-hls-rules';

/** A Low-Latency playlist as a client received it, with the directives it asked with. */
export interface SeenPlaylist {
  /** File name (`<id>-video.ll.m3u8`), without the query. */
  name: string;
  url: string;
  request: { msn?: number; part?: number; skip?: 'YES' | 'v2' };
  status: number;
  text: string;
  at: number;
}

/** The part counter in an LL part URI (`…p12.m4s` → 12). */
export const llPartIndex = (uri: string): number | undefined => {
  const name = parseLlName(uri.split('/').pop()!.split('?')[0]);
  return name?.type === 'part' ? name.number : undefined;
};

export function directivesOf(url: string): SeenPlaylist['request'] {
  const params = new URL(url).searchParams;
  const number = (name: string) => (params.has(name) ? Number(params.get(name)) : undefined);
  const skip = params.get('_HLS_skip');
  return { msn: number('_HLS_msn'), part: number('_HLS_part'), skip: skip === 'YES' || skip === 'v2' ? skip : undefined };
}

/** Whether a fragment (moof + mdat) holds a sync sample, from its trun's sample flags. */
export function holdsKeyframe(fragment: Buffer): boolean {
  const at = fragment.indexOf('trun', 0, 'latin1');
  if (at < 0) return false;
  const count = fragment.readUInt32BE(at + 8);
  for (let i = 0; i < count; i++) if (fragment.readUInt32BE(at + 16 + i * 16 + 8) & 0x02000000) return true;
  return false;
}

/**
 * Records every LL playlist a page (hls.js) loads, so a test can put each through the spec's rules:
 * alone (with the directives it answered), against the previous reload of the same playlist, and the
 * latest of each rendition together.
 */
export class LlPlaylistObserver {
  readonly seen: SeenPlaylist[] = [];
  readonly masters: string[] = [];
  private pending: Promise<void>[] = [];

  constructor(page: Page) {
    page.on('response', (response) => this.pending.push(this.record(response)));
  }

  /** Waits for the bodies of the responses seen so far. */
  async settle(): Promise<void> {
    await Promise.all(this.pending);
  }

  private async record(response: Response): Promise<void> {
    const url = response.url();
    const name = new URL(url).pathname.split('/').pop()!;
    if (!name.endsWith('.ll.m3u8')) return;
    const text = await response.text().catch(() => '');
    const parsed = parseLlName(name);
    if (parsed?.type === 'master') {
      if (response.status() === 200) this.masters.push(text);
      return;
    }
    this.seen.push({ name, url, request: directivesOf(url), status: response.status(), text, at: Date.now() });
  }

  /**
   * Every violation in what was seen (but the tolerated ones, logged apart), each logged: the master, each playlist (its
   * reports naming every other rendition of the master), consecutive reloads of each playlist, and
   * the latest playlists of all renditions together.
   */
  violations(keyframeParts?: (uri: string) => boolean | undefined): Violation[] {
    const out: Violation[] = [];
    const master = this.masters[this.masters.length - 1];
    const renditions = master ? masterMediaUris(master) : [];
    for (const text of this.masters) out.push(...checkMasterPlaylist(text).map(prefix('master')));
    const byName = new Map<string, SeenPlaylist[]>();
    for (const seen of this.seen.filter((s) => s.status === 200)) byName.set(seen.name, [...(byName.get(seen.name) ?? []), seen]);
    for (const [name, list] of byName) {
      list.forEach((seen, i) => {
        const where = `${name}${seen.url.includes('?') ? `?${seen.url.split('?')[1]}` : ''} #${i}`;
        const checked = checkLlMediaPlaylist(seen.text, {
          request: seen.request,
          partIndexOf: llPartIndex,
          keyframeParts,
          selfUri: name,
          expectedRenditionReports: renditions.filter((uri) => uri !== name),
        });
        out.push(...checked.map(prefix(where)));
        if (i > 0) out.push(...compareLlReloads(list[i - 1].text, seen.text).map(prefix(`${where} after #${i - 1}`)));
      });
    }
    const latest = Object.fromEntries([...byName].map(([name, list]) => [name, list[list.length - 1].text]));
    if (Object.keys(latest).length > 1) out.push(...checkLlRenditionSet(latest).map(prefix('rendition set')));
    const { failing } = splitTolerated(out);
    for (const violation of failing) console.warn(`LL rule violated: [${violation.rule}] ${violation.message}`);
    return failing;
  }

  /** Part URIs listed in the latest playlist of `name`. */
  latestParts(name: string): string[] {
    const list = this.seen.filter((s) => s.name === name && s.status === 200);
    const last = list[list.length - 1];
    if (!last) return [];
    const parsed = parseLlMediaPlaylist(last.text);
    return [...parsed.segments.flatMap((s) => s.parts), ...(parsed.pending?.parts ?? [])].map((p) => p.uri);
  }
}

/**
 * Violations a test reports but does not fail on: an EXTINF above TARGETDURATION comes from where the
 * shared segmenter cut (a keyframe that came late, on a busy host or from a slow encoder); the LL
 * segment is the classic segment and has its length. Everything else fails.
 */
export function splitTolerated(violations: readonly Violation[]): { failing: Violation[]; tolerated: Violation[] } {
  const tolerated = violations.filter((v) => v.rule === 'target-duration' && /EXTINF .* above EXT-X-TARGETDURATION/.test(v.message));
  for (const v of tolerated) console.warn(`LL rule tolerated (the shared segment cut): [${v.rule}] ${v.message}`);
  return { failing: violations.filter((v) => !tolerated.includes(v)), tolerated };
}

const prefix =
  (where: string) =>
  (violation: Violation): Violation => ({ ...violation, message: `${where}: ${violation.message}` });

export { formatViolations };
