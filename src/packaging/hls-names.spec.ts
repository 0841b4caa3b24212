import { streamOfFile } from './hls-names';

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
