import { buildFfmpegArgs, buildFfmpegCommands, FfmpegPlan, hlsTimeFor } from './ffmpeg-args';

const base: FfmpegPlan = {
  peerId: 'p1',
  sdpPath: '/w/p1.sdp',
  video: { source: 'rtp', mode: 'copy' },
  audio: { source: 'rtp' },
  hlsDir: '/hls',
  workDir: '/w',
  startNumber: 7,
  segmentSeconds: 1,
  x264Preset: 'veryfast',
  x264BitrateKbps: 2500,
  aacBitrateKbps: 128,
};

const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('buildFfmpegArgs', () => {
  it('copies H264 and encodes Opus to AAC from one SDP, into both renditions, numbered on', () => {
    const args = buildFfmpegArgs(base);
    expect(args.join(' ')).toContain('-protocol_whitelist file,udp,rtp -buffer_size 4194304 -i /w/p1.sdp');
    expect(args.join(' ')).toContain('-map 0:v:0 -c:v copy -map 0:a:0 -c:a aac -b:a 128k -ar 48000 -ac 2');
    expect(after(args, '-var_stream_map')).toBe('v:0,name:video a:0,name:audio');
    expect(after(args, '-start_number')).toBe('7');
    expect(after(args, '-hls_segment_filename')).toBe('/hls/%v_p1_%03d.ts');
    expect(args.at(-1)).toBe('/w/p1-%v.m3u8');
    expect(args).toContain('-nostdin');
  });

  it('derives hls_time from the target so cuts land on the requested keyframes', () => {
    expect(hlsTimeFor(1)).toBe(0.9);
    expect(hlsTimeFor(2)).toBe(1.8);
    expect(after(buildFfmpegArgs({ ...base, segmentSeconds: 2 }), '-hls_time')).toBe('1.8');
  });

  it('transcodes VP8/VP9 with x264, forced keyframes on the segment cadence, sender frame rate', () => {
    const args = buildFfmpegArgs({ ...base, video: { source: 'rtp', mode: 'transcode' } });
    const text = args.join(' ');
    expect(text).toContain('-c:v libx264 -preset veryfast -tune zerolatency');
    expect(text).toContain('-force_key_frames expr:gte(t,n_forced*1)');
    expect(text).toContain('-fps_mode passthrough');
    expect(text).toContain('-b:v 2500k');
  });

  it('keeps the timeline moving with filler inputs while producers are paused', () => {
    const args = buildFfmpegArgs({ ...base, sdpPath: undefined, video: { source: 'filler', width: 640, height: 480 }, audio: { source: 'filler' } });
    const text = args.join(' ');
    expect(text).not.toContain('.sdp');
    expect(text).toContain('-re -f lavfi -i color=c=black:s=640x480:r=15 -re -f lavfi -i anullsrc=r=48000:cl=stereo');
    expect(text).toContain('-map 0:v:0');
    expect(text).toContain('-map 1:a:0');
  });

  it('mixes a live audio track with filler video (camera off, mic on)', () => {
    const text = buildFfmpegArgs({ ...base, video: { source: 'filler', width: 320, height: 240 } }).join(' ');
    expect(text).toContain('-i /w/p1.sdp -re -f lavfi -i color=c=black:s=320x240:r=15');
    expect(text).toContain('-map 1:v:0');
    expect(text).toContain('-map 0:a:0');
  });

  it('audio only and video only map one rendition', () => {
    expect(after(buildFfmpegArgs({ ...base, video: undefined }), '-var_stream_map')).toBe('a:0,name:audio');
    expect(after(buildFfmpegArgs({ ...base, audio: undefined }), '-var_stream_map')).toBe('v:0,name:video');
    expect(() => buildFfmpegArgs({ ...base, video: undefined, audio: undefined })).toThrow(RangeError);
  });
});

describe('buildFfmpegCommands', () => {
  it('runs both kinds in one process normally (one timeline)', () => {
    const commands = buildFfmpegCommands(base);
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({ kinds: ['video', 'audio'], sdpPath: '/w/p1.sdp' });
  });

  it('legacy profile: the original design, one process per kind, video re-encoded at 15 fps in 1 s segments', () => {
    const [video, audio] = buildFfmpegCommands({ ...base, profile: 'legacy' });
    expect(video).toMatchObject({ kinds: ['video'], sdpPath: '/w/p1-video.sdp' });
    expect(audio).toMatchObject({ kinds: ['audio'], sdpPath: '/w/p1-audio.sdp' });
    const text = video.args.join(' ');
    expect(text).toContain('-c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p -r 15');
    expect(after(video.args, '-hls_time')).toBe('1');
    expect(after(video.args, '-var_stream_map')).toBe('v:0,name:video');
    expect(after(audio.args, '-var_stream_map')).toBe('a:0,name:audio');
    expect(audio.args.join(' ')).toContain('-i /w/p1-audio.sdp');
  });
});
