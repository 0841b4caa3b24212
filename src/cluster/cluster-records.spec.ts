import { encodeEvent, flatToObject, parseContinuity, parseEventMessage, parseNodeJson, parseStreamHash } from './cluster-records';

const hash = (fields: Record<string, string | number>) => Object.entries(fields).flatMap(([key, value]) => [key, String(value)]);

describe('cluster records', () => {
  it('reads a stream hash, with its idle time on the same clock', () => {
    const flat = hash({
      name: 'studio-1',
      node: 'a',
      address: 'http://a:4000',
      lease: 'L1',
      state: 'parked',
      meta: '{"codec":"avc1"}',
      claimedAt: 1000,
      updatedAt: 1500,
      renewedAt: 4000,
    });
    expect(parseStreamHash(flat, 5200)).toEqual({
      name: 'studio-1',
      node: 'a',
      address: 'http://a:4000',
      state: 'parked',
      meta: { codec: 'avc1' },
      lease: 'L1',
      claimedAt: 1000,
      updatedAt: 1500,
      idleMs: 1200,
    });
  });

  it('refuses a stream hash without a holder, lease or known state, and tolerates bad meta', () => {
    const base = { name: 's', node: 'a', lease: 'L', state: 'live', renewedAt: 1 };
    expect(parseStreamHash(hash({ ...base, state: 'weird' }), 1)).toBeNull();
    expect(parseStreamHash(hash({ ...base, lease: '' }), 1)).toBeNull();
    expect(parseStreamHash([], 1)).toBeNull();
    expect(parseStreamHash(hash({ ...base, meta: '{not json' }), 1)?.meta).toEqual({});
    expect(parseStreamHash(hash({ ...base, meta: '[1,2]' }), 1)?.meta).toEqual({});
  });

  it('turns a flat field list into an object and ignores a dangling field', () => {
    expect(flatToObject(['a', '1', 'b', '2', 'c'])).toEqual({ a: '1', b: '2' });
    expect(flatToObject('nope')).toEqual({});
  });

  it('reads node records and refuses incomplete ones', () => {
    const node = { id: 'a', address: 'http://a:4000', capacity: 10, load: 2, streams: 2, startedAt: 1, heartbeatAt: 2 };
    expect(parseNodeJson(JSON.stringify(node))).toEqual(node);
    expect(parseNodeJson(JSON.stringify({ ...node, load: 'high' }))).toBeNull();
    expect(parseNodeJson('{')).toBeNull();
    expect(parseNodeJson(null)).toBeNull();
  });

  it('round-trips an event and drops the sender instance own messages and malformed ones', () => {
    const wire = encodeEvent({ type: 'peerLive', stream: 's', data: { masterUrl: '/live/s.m3u8' } }, 'a', 'inst-a', 42);
    expect(parseEventMessage(wire, 'inst-b')).toEqual({
      type: 'peerLive',
      stream: 's',
      node: 'a',
      at: 42,
      data: { masterUrl: '/live/s.m3u8' },
    });
    expect(parseEventMessage(wire, 'inst-a')).toBeNull();
    expect(parseEventMessage(encodeEvent({ type: 'peerLeft', stream: 's' }, 'a', 'i', 1), 'x')).toEqual({
      type: 'peerLeft',
      stream: 's',
      node: 'a',
      at: 1,
    });
    expect(parseEventMessage(JSON.stringify({ v: 1, node: 'a', instance: 'i', at: 1, type: 'explode', stream: 's' }), 'x')).toBeNull();
    expect(parseEventMessage(JSON.stringify({ v: 2, node: 'a', instance: 'i', at: 1, type: 'peerLive', stream: 's' }), 'x')).toBeNull();
    expect(parseEventMessage('not json', 'x')).toBeNull();
  });

  it('reads continuity records', () => {
    const data = { mediaSequence: 41, discontinuitySequence: 2 };
    expect(parseContinuity(JSON.stringify({ name: 's', node: 'a', savedAt: 9, data }))).toEqual({ name: 's', node: 'a', savedAt: 9, data });
    expect(parseContinuity(JSON.stringify({ name: 's', savedAt: 9, data }))).toBeNull();
    expect(parseContinuity(null)).toBeNull();
  });
});
