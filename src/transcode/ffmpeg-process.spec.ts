import { spawn } from 'node:child_process';
import { FfmpegProcess } from './ffmpeg-process';
import type { ProcessRunner } from './process-runner';

/** Runs a Node script in FFmpeg's place, with FFmpeg's pipes (stdout = -progress, stderr = log). */
const standIn = (script: string): ProcessRunner => ({
  spawn: (_binary, _args, options) =>
    spawn(process.execPath, ['-e', script], {
      stdio: ['ignore', 'pipe', 'pipe', ...Array.from({ length: options.outputPipes }, () => 'pipe' as const)],
    }),
});

describe('FfmpegProcess', () => {
  it('counts "RTP: missed N packets" (not FFmpeg bookkeeping: a wrapped late packet, a start-up gap of thousands) and drop_frames from -progress as increments, keeping them out of the stderr tail', async () => {
    const script = `
      process.stderr.write('[rtp @ 0x1] RTP: missed 12 packets\\n');
      process.stdout.write('frame=10\\ndrop_frames=0\\nprogress=continue\\n');
      process.stderr.write('[rtp @ 0x1] RTP: missed 3 packets\\n');
      process.stderr.write('[rtp @ 0x1] RTP: missed 65533 packets\\n');
      process.stderr.write('[sdp @ 0x1] RTP: missed 12488 packets\\n');
      process.stdout.write('frame=40\\ndrop_frames=5\\nprogress=continue\\n');
      process.stdout.write('frame=70\\ndrop_frames=5\\nprogress=continue\\n');
      process.stdout.write('frame=99\\ndrop_frames=7\\nprogress=end\\n');
      process.stderr.write('something else\\n');
    `;
    const losses: Array<[number, number]> = [];
    const ffmpeg = new FfmpegProcess(standIn(script), 'ffmpeg', [], 1, undefined, (missed, dropped) => losses.push([missed, dropped]));
    await ffmpeg.drained;
    expect(ffmpeg.missedPackets).toBe(15);
    expect(ffmpeg.droppedFrames).toBe(7);
    expect(losses.reduce((sum, [m]) => sum + m, 0)).toBe(15);
    expect(losses.reduce((sum, [, d]) => sum + d, 0)).toBe(7);
    expect(ffmpeg.tail).toBe('something else');
  });
});
