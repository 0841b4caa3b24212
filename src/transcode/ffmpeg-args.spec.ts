import { buildFfmpegArgs, buildFfmpegCommands, FfmpegPlan } from './ffmpeg-args';

const base: FfmpegPlan = {
  sdpPath: '/w/input.sdp',
  video: { source: 'rtp', mode: 'copy' },
  audio: { source: 'rtp' },
  segmentSeconds: 1,
  timelineOffsetSeconds: 0,
  x264Preset: 'veryfast',
  x264BitrateKbps: 2500,
  aacBitrateKbps: 128,
};

const text = (plan: FfmpegPlan) => buildFfmpegArgs(plan).args.join(' ');

describe('buildFfmpegArgs', () => {
  it('copies H264 and encodes Opus to AAC from one SDP, each rendition as MPEG-TS to its own pipe', () => {
    const { args, outputs } = buildFfmpegArgs(base);
    const all = args.join(' ');
    expect(all).toContain('-protocol_whitelist file,udp,rtp -buffer_size 4194304 -analyzeduration 0 -fpsprobesize 0 -i /w/input.sdp');
    expect(all).toContain(
      '-map 0:v:0 -c:v copy -output_ts_offset 0.000000 -f mpegts -pes_payload_size 0 -omit_video_pes_length 0 -flush_packets 1 pipe:3',
    );
    expect(all).toContain(
      '-map 0:a:0 -c:a aac -b:a 128k -ar 48000 -ac 2 -output_ts_offset 0.000000 -f mpegts -pes_payload_size 0 -omit_video_pes_length 0 -flush_packets 1 pipe:4',
    );
    expect(outputs).toEqual([
      { rendition: 'video', kind: 'video' },
      { rendition: 'audio', kind: 'audio' },
    ]);
    expect(args).toContain('-nostdin');
    expect(all).not.toContain('-f hls');
  });

  it('starts a later run where the previous one ended', () => {
    expect(text({ ...base, timelineOffsetSeconds: 12.3456789 })).toContain('-output_ts_offset 12.345679 -f mpegts');
  });

  it('transcodes VP8/VP9 with x264, forced keyframes on the segment cadence, sender frame rate', () => {
    const all = text({ ...base, video: { source: 'rtp', mode: 'transcode' } });
    expect(all).toContain('-c:v libx264 -preset veryfast -tune zerolatency');
    expect(all).toContain('-force_key_frames expr:gte(t,n_forced*1)');
    expect(all).toContain('-fps_mode passthrough');
    expect(all).toContain('-b:v 2500k');
  });

  it('simulcast: one output per layer, each from its own m-line, copied; transcoded layers at their own bitrates', () => {
    const copied = buildFfmpegArgs({ ...base, video: { source: 'rtp', mode: 'copy', renditions: ['video', 'video.r1', 'video.r0'] } });
    expect(copied.outputs.map((o) => o.rendition)).toEqual(['video', 'video.r1', 'video.r0', 'audio']);
    const all = copied.args.join(' ');
    expect(all).toContain('-map 0:v:0 -c:v copy');
    expect(all).toContain(
      '-map 0:v:2 -c:v copy -output_ts_offset 0.000000 -f mpegts -pes_payload_size 0 -omit_video_pes_length 0 -flush_packets 1 pipe:5',
    );
    expect(all).toContain('pipe:6');
    const transcoded = text({
      ...base,
      video: { source: 'rtp', mode: 'transcode', renditions: ['video', 'video.r1'], bitratesKbps: [900, 300] },
    });
    expect(transcoded).toContain('-map 0:v:0 -c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p -b:v 900k');
    expect(transcoded).toContain('-map 0:v:1 -c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p -b:v 300k');
    const filler = text({
      ...base,
      sdpPath: undefined,
      audio: undefined,
      video: { source: 'filler', width: 320, height: 180, renditions: ['video', 'video.r0'] },
    });
    expect(filler.match(/-map 0:v:0 -c:v libx264 -preset ultrafast/g)).toHaveLength(2);
  });

  it('keeps the timeline moving with filler inputs while producers are paused', () => {
    const all = text({ ...base, sdpPath: undefined, video: { source: 'filler', width: 640, height: 480 }, audio: { source: 'filler' } });
    expect(all).not.toContain('.sdp');
    // Filler alone: one segment at once, then real time (split: the lead, then the paced rest).
    expect(all).not.toContain('-re ');
    expect(all).toContain(
      '-f lavfi -i color=c=black:s=640x480:r=15,split[lead][rest];[lead]trim=end=1[first];[rest]trim=start=1,setpts=PTS-STARTPTS,realtime[paced];[first][paced]concat=n=2:v=1:a=0[out0]',
    );
    expect(all).toContain(
      '-f lavfi -i anullsrc=r=48000:cl=stereo,asplit[lead][rest];[lead]atrim=end=1[first];[rest]atrim=start=1,asetpts=PTS-STARTPTS,arealtime[paced];[first][paced]concat=n=2:v=0:a=1[out0]',
    );
    expect(all).toContain('-map 0:v:0');
    expect(all).toContain('-map 1:a:0');
  });

  it('mixes a live audio track with filler video (camera off, mic on)', () => {
    const all = text({ ...base, video: { source: 'filler', width: 320, height: 240 } });
    expect(all).toContain('-i /w/input.sdp -re -f lavfi -i color=c=black:s=320x240:r=15');
    expect(all).toContain('-map 1:v:0');
    expect(all).toContain('-map 0:a:0');
  });

  it('audio only and video only have one output', () => {
    expect(buildFfmpegArgs({ ...base, video: undefined }).outputs).toEqual([{ rendition: 'audio', kind: 'audio' }]);
    expect(text({ ...base, video: undefined })).toContain('pipe:3');
    expect(buildFfmpegArgs({ ...base, audio: undefined }).outputs).toEqual([{ rendition: 'video', kind: 'video' }]);
    expect(() => buildFfmpegArgs({ ...base, video: undefined, audio: undefined })).toThrow(RangeError);
  });
});

describe('buildFfmpegCommands', () => {
  it('runs both kinds in one process normally (one timeline)', () => {
    const commands = buildFfmpegCommands(base);
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({ kinds: ['video', 'audio'], sdpPath: '/w/input.sdp' });
  });

  it('legacy profile: the original design, one process per kind, video re-encoded at 15 fps', () => {
    const [video, audio] = buildFfmpegCommands({ ...base, profile: 'legacy' });
    expect(video).toMatchObject({ kinds: ['video'], sdpPath: '/w/input-video.sdp', outputs: [{ rendition: 'video', kind: 'video' }] });
    expect(audio).toMatchObject({ kinds: ['audio'], sdpPath: '/w/input-audio.sdp', outputs: [{ rendition: 'audio', kind: 'audio' }] });
    expect(video.args.join(' ')).toContain('-c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p -r 15');
    expect(audio.args.join(' ')).toContain('-i /w/input-audio.sdp');
    // 30 fps in, 15 out: the frames FFmpeg drops for that are not loss (the bench's verdict counts loss).
    expect(video.convertsFrameRate).toBe(true);
    expect(audio.convertsFrameRate).toBe(false);
    expect(buildFfmpegCommands(base)[0].convertsFrameRate).toBe(false);
  });
});
