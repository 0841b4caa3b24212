// HLS playlist parsing shared by the benchmark (bench/*.mjs) and the tests (TypeScript, through
// playlist.d.ts): plain CommonJS so both can load it without a build step.
'use strict';

/** Attribute list of a tag (`KEY=value,KEY="quoted, value"`), values as strings without quotes. */
function parseAttributes(list) {
  const out = {};
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
  let m;
  while ((m = re.exec(list)) !== null) out[m[1]] = m[2].startsWith('"') ? m[2].slice(1, -1) : m[2];
  return out;
}

const number = (text, re) => {
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
};

/**
 * A media playlist: header values, segments (with their media sequence number and whether an
 * EXT-X-DISCONTINUITY precedes them) and, for Low-Latency HLS, parts and the preload hint.
 * A segment's URI is the first non-tag line after its EXTINF (RFC 8216 4.3.2.1 allows tags between).
 */
function parseMediaPlaylist(text) {
  const lines = text.split(/\r?\n/);
  const mediaSequence = number(text, /#EXT-X-MEDIA-SEQUENCE:(\d+)/) ?? 0;
  const segments = [];
  const parts = [];
  let discontinuity = false;
  let discontinuities = 0;
  let pendingParts = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '#EXT-X-DISCONTINUITY') {
      discontinuity = true;
      discontinuities++;
    } else if (line.startsWith('#EXT-X-PART:')) {
      const a = parseAttributes(line.slice('#EXT-X-PART:'.length));
      const part = { uri: a.URI, duration: Number(a.DURATION), independent: a.INDEPENDENT === 'YES', segmentSeq: undefined };
      pendingParts.push(part);
      parts.push(part);
    } else if (line.startsWith('#EXTINF:')) {
      const duration = Number(/^#EXTINF:([\d.]+)/.exec(line)?.[1]);
      let j = i + 1;
      while (j < lines.length && (lines[j].trim() === '' || lines[j].startsWith('#'))) j++;
      if (j >= lines.length) break;
      const seq = mediaSequence + segments.length;
      segments.push({ uri: lines[j].trim(), duration, discontinuity, seq });
      for (const p of pendingParts) p.segmentSeq = seq;
      pendingParts = [];
      discontinuity = false;
      i = j;
    }
  }
  const hint = /#EXT-X-PRELOAD-HINT:(.*)/.exec(text);
  return {
    text,
    version: number(text, /#EXT-X-VERSION:(\d+)/),
    targetDuration: number(text, /#EXT-X-TARGETDURATION:(\d+)/),
    mediaSequence,
    discontinuitySequence: number(text, /#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/) ?? 0,
    partTarget: number(text, /#EXT-X-PART-INF:PART-TARGET=([\d.]+)/),
    segments,
    discontinuities,
    parts,
    preloadHint: hint ? parseAttributes(hint[1]) : undefined,
    ended: text.includes('#EXT-X-ENDLIST'),
  };
}

/** A master playlist: its variants (EXT-X-STREAM-INF + URI), renditions (EXT-X-MEDIA) and every URI it names. */
function parseMasterPlaylist(text) {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const variants = [];
  const media = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith('#EXT-X-STREAM-INF:')) {
      let j = i + 1;
      while (j < lines.length && (lines[j] === '' || lines[j].startsWith('#'))) j++;
      if (j < lines.length) variants.push({ uri: lines[j], attributes: parseAttributes(lines[i].slice('#EXT-X-STREAM-INF:'.length)) });
      i = j;
    } else if (lines[i].startsWith('#EXT-X-MEDIA:')) {
      media.push({ attributes: parseAttributes(lines[i].slice('#EXT-X-MEDIA:'.length)) });
    }
  }
  const uris = [...new Set([...variants.map((v) => v.uri), ...media.map((m) => m.attributes.URI).filter(Boolean)])];
  return { variants, media, uris };
}

module.exports = { parseAttributes, parseMediaPlaylist, parseMasterPlaylist };
