import { BadRequestError } from '../common/errors';
import { assertStreamName, StreamNameError, validateStreamName } from './stream-name';

describe('validateStreamName', () => {
  it.each(['a', 'studio-1', 'Cam_2', '-', '_', '0', 'x'.repeat(64), 'video', 'audio', 'my-videos', 'x-video1', 'video-x', 'a-vide'])(
    'accepts %j',
    (name) => {
      expect(validateStreamName(name)).toBeUndefined();
      expect(() => assertStreamName(name)).not.toThrow();
    },
  );

  it('refuses an empty name', () => {
    const error = validateStreamName('');
    expect(error).toBeInstanceOf(StreamNameError);
    expect(error).toMatchObject({ problem: 'EMPTY', code: 'BAD_REQUEST' });
    expect(error!.message).toBe('stream name is empty; use 1 to 64 of A-Z, a-z, 0-9, _ and -');
  });

  it('refuses 65 characters and says how many it got', () => {
    const error = validateStreamName('x'.repeat(65));
    expect(error).toMatchObject({ problem: 'TOO_LONG', message: 'stream name is 65 characters long; at most 64 are allowed' });
  });

  it.each([
    ['a b', 2, 'U+0020'],
    ['a.m3u8', 2, '"." (U+002E)'],
    ['../etc', 1, '"." (U+002E)'],
    ['a/b', 2, '"/" (U+002F)'],
    ['café', 4, '"é" (U+00E9)'],
    ['tab\there', 4, 'U+0009'],
    ['x\u0000', 2, 'U+0000'],
    ['live😀', 5, '"😀" (U+1F600)'],
    ['a😀b😀', 2, '"😀" (U+1F600)'],
  ])('refuses %j, naming the first bad character (position %d: %s)', (name, position, shown) => {
    const error = validateStreamName(name);
    expect(error).toMatchObject({ problem: 'BAD_CHARACTER' });
    expect(error!.message).toBe(
      `stream name ${JSON.stringify(name)} has a character that is not allowed at position ${position}: ${shown}; use only A-Z, a-z, 0-9, _ and -`,
    );
  });

  it.each([
    ['cam-video', '-video'],
    ['cam-audio', '-audio'],
    ['-video', '-video'],
    ['cam-VIDEO', '-video'],
    ['cam-Audio', '-audio'],
  ])('refuses %j: it ends in the reserved %s', (name, suffix) => {
    const error = validateStreamName(name);
    expect(error).toMatchObject({ problem: 'RESERVED_SUFFIX' });
    expect(error!.message).toBe(
      `stream name ${JSON.stringify(name)} ends in "${suffix}", which is reserved: ` +
        "a stream's rendition playlists are named <name>-video.m3u8 and <name>-audio.m3u8",
    );
  });

  it.each([
    [42, 'number'],
    [null, 'null'],
    [undefined, 'undefined'],
    [{ name: 'a' }, 'object'],
  ])('refuses %j, which is not a string (socket.io auth is any JSON)', (value, type) => {
    expect(validateStreamName(value)).toMatchObject({ problem: 'NOT_A_STRING', message: `stream name must be a string, got ${type}` });
  });

  it('assertStreamName throws the same error, a BadRequestError the gateway can answer', () => {
    expect(() => assertStreamName('a b')).toThrow(StreamNameError);
    expect(() => assertStreamName('a b')).toThrow(BadRequestError);
    expect(() => assertStreamName('x-audio')).toThrow(/ends in "-audio"/);
  });
});
