import { renderMasterPlaylist } from './master-playlist';

describe('renderMasterPlaylist', () => {
  it('names the audio rendition group and the real codecs, bandwidth and resolution', () => {
    expect(
      renderMasterPlaylist({
        streamId: 'p1',
        video: { codec: 'avc1.42e01f', width: 640, height: 480 },
        audio: { codec: 'mp4a.40.2', channels: 2 },
        bandwidth: 1234567.2,
        averageBandwidth: 900000,
      }),
    ).toBe(
      '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n' +
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="p1-audio.m3u8"\n' +
        '#EXT-X-STREAM-INF:BANDWIDTH=1234568,AVERAGE-BANDWIDTH=900000,CODECS="avc1.42e01f,mp4a.40.2",RESOLUTION=640x480,AUDIO="aud"\n' +
        'p1-video.m3u8\n',
    );
  });

  it('points an audio-only stream at the audio playlist, without RESOLUTION', () => {
    const text = renderMasterPlaylist({ streamId: 'p2', audio: { codec: 'mp4a.40.2', channels: 2 }, bandwidth: 130000 });
    expect(text).toContain('#EXT-X-STREAM-INF:BANDWIDTH=130000,CODECS="mp4a.40.2"\np2-audio.m3u8\n');
    expect(text).not.toContain('RESOLUTION');
    expect(text).not.toContain('EXT-X-MEDIA');
  });

  it('video only: no audio group', () => {
    const text = renderMasterPlaylist({ streamId: 'p3', video: { codec: 'avc1.640028' }, bandwidth: 1e6 });
    expect(text).toContain('CODECS="avc1.640028"\np3-video.m3u8');
    expect(text).not.toContain('AUDIO=');
  });

  it('has no stray whitespace: starts with #EXTM3U, no trailing spaces, ends with one newline', () => {
    const text = renderMasterPlaylist({ streamId: 'p', video: { codec: 'avc1.42e01f' }, bandwidth: 1 });
    expect(text.startsWith('#EXTM3U\n')).toBe(true);
    expect(text).not.toMatch(/[ \t]$/m);
    expect(text.endsWith('\n') && !text.endsWith('\n\n')).toBe(true);
  });

  it('refuses a master without renditions', () => {
    expect(() => renderMasterPlaylist({ streamId: 'p', bandwidth: 1 })).toThrow(RangeError);
  });
});
