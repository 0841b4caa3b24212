import {
  belongsTo,
  isHlsFile,
  isLlName,
  llInitName,
  llMasterPlaylistName,
  llMediaPlaylistName,
  llPartName,
  llSegmentName,
  masterPlaylistName,
  mediaPlaylistName,
  parseLlName,
  segmentName,
  streamOfFile,
} from './hls-names';

describe('Low-Latency names', () => {
  const id = 'Nbm4Zqc4p_B15-MwAAAA';

  it('round-trips every LL name to what it names', () => {
    expect(parseLlName(llMasterPlaylistName(id))).toEqual({ type: 'master', streamId: id });
    expect(parseLlName(llMediaPlaylistName(id, 'video'))).toEqual({ type: 'playlist', streamId: id, rendition: 'video' });
    expect(parseLlName(llMediaPlaylistName(id, 'audio'))).toEqual({ type: 'playlist', streamId: id, rendition: 'audio' });
    expect(parseLlName(llMediaPlaylistName(id, 'video.r1'))).toEqual({ type: 'playlist', streamId: id, rendition: 'video.r1' });
    expect(parseLlName(llInitName(id, 'video', 'mjuohs00', 3))).toEqual({
      type: 'init',
      streamId: id,
      rendition: 'video',
      epoch: 'mjuohs00',
      number: 3,
    });
    expect(parseLlName(llPartName(id, 'audio', 'mjuohs00', 1234))).toEqual({
      type: 'part',
      streamId: id,
      rendition: 'audio',
      epoch: 'mjuohs00',
      number: 1234,
    });
    expect(parseLlName(llSegmentName(id, 'video', 'k', 7))).toEqual({
      type: 'segment',
      streamId: id,
      rendition: 'video',
      epoch: 'k',
      number: 7,
    });
  });

  it('a rendition playlist is never read as the master of a stream named `<id>-video` (a name no stream may have)', () => {
    expect(parseLlName(`${id}-video.ll.m3u8`)).toMatchObject({ type: 'playlist', streamId: id });
    expect(parseLlName('a-video-b-audio.ll.m3u8')).toMatchObject({ type: 'playlist', streamId: 'a-video-b', rendition: 'audio' });
  });

  it('refuses anything else', () => {
    for (const name of [
      masterPlaylistName(id),
      mediaPlaylistName(id, 'video'),
      segmentName(id, 'video', 3),
      `${id}.ll.m3u8x`,
      `${id}-video.ll.EPOCH.p1.m4s`,
      `${id}-video.ll.e.p1.mp4`,
      `${id}-video.ll.e.i1.m4s`,
      `${id}-video.ll.e.x1.m4s`,
      `${id}-video.ll.e.p-1.m4s`,
      `../${id}.ll.m3u8`,
      `${id}-other.ll.e.p1.m4s`,
    ]) {
      expect([name, parseLlName(name)]).toEqual([name, undefined]);
    }
  });

  it('LL names are not classic files: never listed, cleaned or served from HLS_DIR', () => {
    expect(isLlName(llMasterPlaylistName(id))).toBe(true);
    expect(isLlName(masterPlaylistName(id))).toBe(false);
    expect(belongsTo(id, llPartName(id, 'video', 'e', 1))).toBe(false);
    expect(isHlsFile(llPartName(id, 'video', 'e', 1))).toBe(false);
  });
});

describe('streamOfFile', () => {
  it.each([
    ['studio-1.m3u8', 'studio-1'],
    ['studio-1-video.m3u8', 'studio-1'],
    ['studio-1-audio.m3u8', 'studio-1'],
    ['video_studio-1_012.ts', 'studio-1'],
    ['audio_Nbm4Zqc4p_B15RMwAAAA_1234.ts', 'Nbm4Zqc4p_B15RMwAAAA'],
    ['video.r1_my_stream_001.ts', 'my_stream'],
    ['studio-1.rec-20261203T161530Z.m3u8', 'studio-1'],
    ['studio-1-video.rec-20261203T161530Z.m3u8', 'studio-1'],
    ['studio-1.ll.m3u8', 'studio-1'],
    ['studio-1-video.ll.m3u8', 'studio-1'],
    ['studio-1-video.ll.k2x9.p123.m4s', 'studio-1'],
    ['studio-1-audio.ll.k2x9.i1.mp4', 'studio-1'],
  ])('%s belongs to %s', (name, id) => {
    expect(streamOfFile(name)).toBe(id);
  });

  it.each(['../etc.m3u8', '.m3u8', 'a/b.m3u8', 'x.txt', 'studio-1', '', 'studio 1.m3u8'])('%j is no stream file', (name) => {
    expect(streamOfFile(name)).toBeUndefined();
  });
});
