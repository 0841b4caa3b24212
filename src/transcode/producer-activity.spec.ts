import type { MediaKind } from 'mediasoup/node/lib/RtpParameters';
import { FROZEN_MS, ProducerActivity, SILENCE_MS, silenceChanges } from './producer-activity';

const quiet = (entries: Partial<Record<MediaKind, number | { ms: number; flowed: boolean }>>) =>
  new Map(
    Object.entries(entries).map(([kind, value]) => [kind as MediaKind, typeof value === 'number' ? { ms: value, flowed: true } : value!]),
  );

describe('silenceChanges', () => {
  it('a kind goes silent at its own bound, not before', () => {
    expect(silenceChanges(quiet({ audio: SILENCE_MS.audio - 1 }), new Set())).toEqual({ silent: [], back: [] });
    expect(silenceChanges(quiet({ audio: SILENCE_MS.audio }), new Set())).toEqual({ silent: ['audio'], back: [] });
    // A still screen at 1 fps is not silent while audio flows.
    expect(silenceChanges(quiet({ video: 1_250, audio: 0 }), new Set())).toEqual({ silent: [], back: [] });
    expect(silenceChanges(quiet({ video: SILENCE_MS.video, audio: 0 }), new Set())).toEqual({ silent: ['video'], back: [] });
  });

  it('a kind that went silent takes along another quiet for the shortest bound', () => {
    expect(silenceChanges(quiet({ video: SILENCE_MS.video, audio: SILENCE_MS.audio }), new Set()).silent).toEqual(['video', 'audio']);
    expect(silenceChanges(quiet({ video: SILENCE_MS.audio, audio: SILENCE_MS.audio }), new Set()).silent).toEqual(['video', 'audio']);
  });

  it('a publisher that froze (every kind quiet at once) goes to filler at FROZEN_MS', () => {
    expect(FROZEN_MS).toBeLessThan(Math.min(SILENCE_MS.audio, SILENCE_MS.video));
    expect(silenceChanges(quiet({ video: FROZEN_MS - 1, audio: FROZEN_MS }), new Set()).silent).toEqual([]);
    expect(silenceChanges(quiet({ video: FROZEN_MS, audio: FROZEN_MS }), new Set()).silent).toEqual(['video', 'audio']);
  });

  it('no early filler for one kind alone, a kind silent already, or a publisher whose media has not started', () => {
    // A stream of one kind: its own bound.
    expect(silenceChanges(quiet({ video: FROZEN_MS }), new Set()).silent).toEqual([]);
    // Audio long silent (a dead microphone) and a 1 fps screen share between two frames.
    expect(silenceChanges(quiet({ video: FROZEN_MS, audio: 5_000 }), new Set(['audio'])).silent).toEqual([]);
    // A WHIP publisher whose ICE and DTLS are not done yet: nothing has flowed.
    expect(
      silenceChanges(quiet({ video: { ms: FROZEN_MS, flowed: false }, audio: { ms: FROZEN_MS, flowed: false } }), new Set()).silent,
    ).toEqual([]);
  });

  it('a silent kind is back at the first look that saw RTP', () => {
    expect(silenceChanges(quiet({ video: 0, audio: 250 }), new Set(['video', 'audio']))).toEqual({ silent: [], back: ['video'] });
  });
});

describe('ProducerActivity', () => {
  const stat = (byteCount: number) => [{ byteCount, packetCount: byteCount / 100, ssrc: 1 }] as never;

  it('counts quiet time from the last look that saw bytes, and says whether anything flowed', () => {
    const activity = new ProducerActivity([{ ssrc: 1 }]);
    activity.update(stat(0), 1_000);
    expect(activity.flowed).toBe(false);
    expect(activity.quietFor(1_500)).toBe(500);
    activity.update(stat(1_000), 2_000);
    expect(activity.flowed).toBe(true);
    activity.update(stat(1_000), 2_250);
    expect(activity.quietFor(2_500)).toBe(500);
  });
});
