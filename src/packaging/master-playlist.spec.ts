import { renderMasterPlaylist } from './master-playlist';

describe('renderMasterPlaylist', () => {
  it('names the audio rendition group and the real codecs, bandwidth (audio included) and resolution', () => {
    expect(
      renderMasterPlaylist({
        streamId: 'p1',
        video: [{ rendition: 'video', codec: 'avc1.42e01f', width: 640, height: 480, bandwidth: 1_100_000.2, averageBandwidth: 800_000 }],
        audio: { codec: 'mp4a.40.2', channels: 2, bandwidth: 134_568, averageBandwidth: 100_000 },
      }),
    ).toBe(
      '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n' +
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="p1-audio.m3u8"\n' +
        '#EXT-X-STREAM-INF:BANDWIDTH=1234569,AVERAGE-BANDWIDTH=900000,CODECS="avc1.42e01f,mp4a.40.2",RESOLUTION=640x480,AUDIO="aud"\n' +
        'p1-video.m3u8\n',
    );
  });

  it('one variant per simulcast layer, top first, sharing the audio group, with FRAME-RATE', () => {
    const text = renderMasterPlaylist({
      streamId: 's',
      video: [
        { rendition: 'video', codec: 'avc1.42c01f', width: 960, height: 540, frameRate: 30, bandwidth: 1_035_000 },
        { rendition: 'video.r1', codec: 'avc1.42c015', width: 480, height: 270, frameRate: 29.97, bandwidth: 345_000 },
        { rendition: 'video.r0', codec: 'avc1.42c00c', width: 240, height: 135, frameRate: 30, bandwidth: 115_000 },
      ],
      audio: { codec: 'mp4a.40.2', channels: 2, bandwidth: 150_000 },
    });
    expect(text.match(/#EXT-X-MEDIA:/g)).toHaveLength(1);
    expect(text).toContain(
      '#EXT-X-STREAM-INF:BANDWIDTH=1185000,CODECS="avc1.42c01f,mp4a.40.2",RESOLUTION=960x540,FRAME-RATE=30.000,AUDIO="aud"\ns-video.m3u8\n',
    );
    expect(text).toContain(
      '#EXT-X-STREAM-INF:BANDWIDTH=495000,CODECS="avc1.42c015,mp4a.40.2",RESOLUTION=480x270,FRAME-RATE=29.970,AUDIO="aud"\ns-video.r1.m3u8\n',
    );
    expect(text).toContain('RESOLUTION=240x135,FRAME-RATE=30.000,AUDIO="aud"\ns-video.r0.m3u8\n');
  });

  it('points an audio-only stream at the audio playlist, without RESOLUTION', () => {
    const text = renderMasterPlaylist({ streamId: 'p2', video: [], audio: { codec: 'mp4a.40.2', channels: 2, bandwidth: 130000 } });
    expect(text).toContain('#EXT-X-STREAM-INF:BANDWIDTH=130000,CODECS="mp4a.40.2"\np2-audio.m3u8\n');
    expect(text).not.toContain('RESOLUTION');
    expect(text).not.toContain('EXT-X-MEDIA');
  });

  it('video only: no audio group', () => {
    const text = renderMasterPlaylist({ streamId: 'p3', video: [{ rendition: 'video', codec: 'avc1.640028', bandwidth: 1e6 }] });
    expect(text).toContain('CODECS="avc1.640028"\np3-video.m3u8');
    expect(text).not.toContain('AUDIO=');
  });

  it('names other playlists when asked (a recording)', () => {
    const text = renderMasterPlaylist({
      streamId: 'p',
      video: [{ rendition: 'video', codec: 'avc1.42e01f', bandwidth: 1 }],
      audio: { codec: 'mp4a.40.2', channels: 2, bandwidth: 1 },
      playlistName: (rendition) => `p-${rendition}.rec-1.m3u8`,
    });
    expect(text).toContain('URI="p-audio.rec-1.m3u8"');
    expect(text).toContain('\np-video.rec-1.m3u8\n');
  });

  it('has no stray whitespace: starts with #EXTM3U, no trailing spaces, ends with one newline', () => {
    const text = renderMasterPlaylist({ streamId: 'p', video: [{ rendition: 'video', codec: 'avc1.42e01f', bandwidth: 1 }] });
    expect(text.startsWith('#EXTM3U\n')).toBe(true);
    expect(text).not.toMatch(/[ \t]$/m);
    expect(text.endsWith('\n') && !text.endsWith('\n\n')).toBe(true);
  });

  it('refuses a master without renditions', () => {
    expect(() => renderMasterPlaylist({ streamId: 'p', video: [] })).toThrow(RangeError);
  });
});
