import {
  CLUSTER_EVENT_TYPES,
  ClusterEvent,
  ContinuityRecord,
  NodeRecord,
  ReceivedClusterEvent,
  STREAM_STATES,
  StreamMeta,
  StreamRecord,
  StreamState,
} from './cluster.types';

/**
 * Conversions between what Redis stores and the records the layer hands out. Another node (or an
 * older version of this one) wrote what is read here, so anything malformed becomes `null`
 * instead of an exception in the middle of a list.
 */

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** HGETALL's flat `[field, value, …]` (as Lua returns it) → object. */
export function flatToObject(flat: unknown): Record<string, string> {
  const object: Record<string, string> = {};
  if (!Array.isArray(flat)) return object;
  for (let i = 0; i + 1 < flat.length; i += 2) object[String(flat[i])] = String(flat[i + 1]);
  return object;
}

/** A stream hash → record; `now` is Redis's clock at the read, for `idleMs`. */
export function parseStreamHash(flat: unknown, now: number): StreamRecord | null {
  const h = flatToObject(flat);
  const state = h.state as StreamState;
  if (!h.name || !h.node || !h.lease || !STREAM_STATES.includes(state)) return null;
  const meta = parseMeta(h.meta);
  const renewedAt = Number(h.renewedAt);
  return {
    name: h.name,
    node: h.node,
    address: h.address ?? '',
    state,
    meta,
    lease: h.lease,
    claimedAt: Number(h.claimedAt) || 0,
    updatedAt: Number(h.updatedAt) || 0,
    idleMs: Number.isFinite(renewedAt) ? Math.max(0, now - renewedAt) : 0,
  };
}

function parseMeta(json: string | undefined): StreamMeta {
  if (!json) return {};
  try {
    const value: unknown = JSON.parse(json);
    return isRecord(value) ? value : {};
  } catch {
    return {};
  }
}

/** The one serialisation of meta, so the heartbeat script's "changed?" string comparison is stable. */
export const encodeMeta = (meta: StreamMeta | undefined): string => JSON.stringify(meta ?? {});

export function parseNodeJson(json: unknown): NodeRecord | null {
  if (typeof json !== 'string') return null;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  if (!isRecord(value) || typeof value.id !== 'string' || typeof value.address !== 'string') return null;
  const numbers = ['capacity', 'load', 'streams', 'startedAt', 'heartbeatAt'] as const;
  if (!numbers.every((field) => isFiniteNumber(value[field]))) return null;
  return {
    id: value.id,
    address: value.address,
    capacity: value.capacity as number,
    load: value.load as number,
    streams: value.streams as number,
    startedAt: value.startedAt as number,
    heartbeatAt: value.heartbeatAt as number,
  };
}

/** The wire form of an event: the sender's node id and instance (so a node can drop its own). */
export function encodeEvent(event: ClusterEvent, node: string, instance: string, at: number): string {
  return JSON.stringify({ v: 1, node, instance, at, type: event.type, stream: event.stream, data: event.data });
}

/** `null` for malformed messages and for this instance's own. */
export function parseEventMessage(message: string, ownInstance: string): ReceivedClusterEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return null;
  }
  if (!isRecord(value) || value.v !== 1 || value.instance === ownInstance) return null;
  const { node, at, type, stream, data } = value;
  if (typeof node !== 'string' || !isFiniteNumber(at) || typeof stream !== 'string') return null;
  if (!CLUSTER_EVENT_TYPES.includes(type as ClusterEvent['type'])) return null;
  if (data !== undefined && !isRecord(data)) return null;
  const event: ReceivedClusterEvent = { type: type as ClusterEvent['type'], stream, node, at };
  if (data !== undefined) event.data = data;
  return event;
}

export function parseContinuity<T>(json: unknown): ContinuityRecord<T> | null {
  if (typeof json !== 'string') return null;
  try {
    const value: unknown = JSON.parse(json);
    if (!isRecord(value) || typeof value.name !== 'string' || typeof value.node !== 'string' || !isFiniteNumber(value.savedAt)) {
      return null;
    }
    return { name: value.name, node: value.node, savedAt: value.savedAt, data: value.data as T };
  } catch {
    return null;
  }
}
