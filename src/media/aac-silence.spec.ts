import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AAC_FRAME_SAMPLES, audioSpecificConfig } from './aac';
import { silentAacFrame } from './aac-silence';
import { initSegment, mediaFragment } from './fmp4';
import { decodeErrors, tempDir } from './testing/ffmpeg-fixtures';

describe('silentAacFrame', () => {
  it.each([1, 2])('%i channel(s): FFmpeg decodes it to 1024 samples of zeros per frame', (channels) => {
    const { dir, remove } = tempDir('aac-silence');
    try {
      const frame = silentAacFrame(2, channels)!;
      const asc = audioSpecificConfig({ objectType: 2, samplingFrequencyIndex: 3, channels });
      const samples = Array.from({ length: 10 }, () => ({
        duration: AAC_FRAME_SAMPLES,
        keyframe: true,
        compositionOffset: 0,
        data: frame,
      }));
      const file = join(dir, 'silence.mp4');
      writeFileSync(
        file,
        Buffer.concat([
          initSegment({ kind: 'audio', sampleRate: 48000, channels, audioSpecificConfig: asc }),
          mediaFragment(1, 0, samples),
        ]),
      );
      expect(decodeErrors(file)).toBe('');
      const pcm = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 's16le', '-'], { maxBuffer: 1 << 20 });
      expect(pcm.length).toBe(10 * AAC_FRAME_SAMPLES * channels * 2);
      expect(pcm.every((byte) => byte === 0)).toBe(true);
    } finally {
      remove();
    }
  });

  it('has no frame for other layouts or object types (holes are then left as they are)', () => {
    expect(silentAacFrame(2, 6)).toBeUndefined();
    expect(silentAacFrame(5, 2)).toBeUndefined();
  });
});
