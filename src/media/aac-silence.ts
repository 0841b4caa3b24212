/**
 * Raw AAC-LC frames that decode to 1024 samples of silence, as encoders write them for digital
 * silence (the same bytes hls.js inserts where MPEG-TS audio has holes). Used to fill holes in a
 * track's timeline where a player's buffer would otherwise have a gap and stall.
 */
const SILENT_AAC_LC: Record<number, readonly number[]> = {
  1: [0x00, 0xc8, 0x00, 0x80, 0x23, 0x80],
  2: [0x21, 0x00, 0x49, 0x90, 0x02, 0x19, 0x00, 0x23, 0x80],
};

/** A silent raw frame for AAC-LC (object type 2) with 1 or 2 channels; undefined for anything else. */
export function silentAacFrame(objectType: number, channels: number): Buffer | undefined {
  const bytes = objectType === 2 ? SILENT_AAC_LC[channels] : undefined;
  return bytes ? Buffer.from(bytes) : undefined;
}
