import { JsonLogger } from './json-logger';

describe('JsonLogger', () => {
  const capture = (level: 'log' | 'debug' = 'log') => {
    const lines: string[] = [];
    return { logger: new JsonLogger(level, (line) => lines.push(line)), lines };
  };

  it('writes one JSON object per line, with level, context and the peer id as a field', () => {
    const { logger, lines } = capture();
    logger.log('[peer:Ab_c-9] joined worker 0', 'PeersService');
    expect(lines).toHaveLength(1);
    expect(lines[0].endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 'info',
      context: 'PeersService',
      msg: '[peer:Ab_c-9] joined worker 0',
      peerId: 'Ab_c-9',
    });
  });

  it('carries the stream id as a field too', () => {
    const { logger, lines } = capture();
    logger.log('[stream:studio-1] live after 1200 ms: /live/studio-1.m3u8', 'PackagingService');
    expect(JSON.parse(lines[0])).toMatchObject({ streamId: 'studio-1' });
    expect(JSON.parse(lines[0]).peerId).toBeUndefined();
  });

  it('keeps error stacks and respects the level', () => {
    const { logger, lines } = capture('log');
    logger.debug('hidden', 'X');
    logger.error('boom', 'Error: boom\n    at here', 'Ctx');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'error', msg: 'boom', stack: 'Error: boom\n    at here', context: 'Ctx' });
  });
});
