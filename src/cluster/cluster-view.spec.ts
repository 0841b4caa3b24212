import { diffSnapshots, EMPTY_SNAPSHOT, isEmptyChange } from './cluster-view';
import { NodeRecord, StreamRecord } from './cluster.types';

const node = (id: string, load = 0): NodeRecord => ({
  id,
  address: `http://${id}:4000`,
  capacity: 10,
  load,
  streams: 0,
  startedAt: 1,
  heartbeatAt: 2,
});
const stream = (name: string, over: Partial<StreamRecord> = {}): StreamRecord => ({
  name,
  node: 'a',
  address: 'http://a:4000',
  state: 'live',
  meta: {},
  lease: `lease-${name}`,
  claimedAt: 1,
  updatedAt: 1,
  idleMs: 0,
  ...over,
});

describe('diffSnapshots', () => {
  it('reports everything as added after an empty look', () => {
    const change = diffSnapshots(EMPTY_SNAPSHOT, { nodes: [node('a')], streams: [stream('s')] });
    expect(change.nodesAdded.map((n) => n.id)).toEqual(['a']);
    expect(change.streamsAdded.map((s) => s.name)).toEqual(['s']);
    expect(change.nodesRemoved).toEqual([]);
    expect(change.streamsRemoved).toEqual([]);
    expect(change.streamsChanged).toEqual([]);
  });

  it('reports a dead node and its streams as removed, with their last known records', () => {
    const before = { nodes: [node('a'), node('b')], streams: [stream('s1'), stream('s2', { node: 'b' })] };
    const after = { nodes: [node('b')], streams: [stream('s2', { node: 'b' })] };
    const change = diffSnapshots(before, after);
    expect(change.nodesRemoved).toEqual([node('a')]);
    expect(change.streamsRemoved).toEqual([stream('s1')]);
    expect(change.nodesAdded).toEqual([]);
    expect(change.streamsAdded).toEqual([]);
  });

  it('reports a new holder, state or meta as changed, not the age of a lease or a node load', () => {
    const before = { nodes: [node('a', 1)], streams: [stream('holder'), stream('state'), stream('meta'), stream('age')] };
    const after = {
      nodes: [node('a', 7)],
      streams: [
        stream('holder', { node: 'b', lease: 'other' }),
        stream('state', { state: 'parked' }),
        stream('meta', { meta: { codec: 'avc1' } }),
        stream('age', { idleMs: 1900, updatedAt: 5 }),
      ],
    };
    const change = diffSnapshots(before, after);
    expect(change.streamsChanged.map((s) => s.name).sort()).toEqual(['holder', 'meta', 'state']);
    expect(isEmptyChange({ ...change, streamsChanged: [] })).toBe(true);
  });

  it('is empty when nothing changed', () => {
    const look = { nodes: [node('a')], streams: [stream('s')] };
    expect(isEmptyChange(diffSnapshots(look, { nodes: [node('a')], streams: [stream('s')] }))).toBe(true);
  });
});
