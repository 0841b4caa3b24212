import { LuaScript } from './lua-script';

/**
 * The registry's Lua scripts. Each runs atomically in Redis, so a check and the write it guards
 * (claim if free, renew if still mine, delete if still mine) cannot interleave with another node's.
 * Times come from Redis's own clock (TIME), so nodes with skewed clocks agree on ages.
 *
 * Stream hash fields: name, node, address, lease, state, meta (JSON), claimedAt, updatedAt, renewedAt.
 * A record is free to claim when it is absent, `ended`, or held by the claiming node id under
 * another lease (the same node id restarted: its old claims are stale).
 */

const NOW = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

const WRITE_CLAIM = `
local function write_claim(key, name, node, address, lease, state, meta, ttl, now)
  redis.call('DEL', key)
  redis.call('HSET', key, 'name', name, 'node', node, 'address', address, 'lease', lease, 'state', state,
    'meta', meta, 'claimedAt', now, 'updatedAt', now, 'renewedAt', now)
  redis.call('PEXPIRE', key, ttl)
end
`;

/**
 * KEYS: stream, streams index.
 * ARGV: name, node, address, lease, state, meta, ttl, mode ('claim' | 'takeover'), expected lease ('' = any).
 * Returns {1, new record, previous record or {}, now} or {0, holder record, {}, now}.
 */
export const CLAIM = new LuaScript(
  'claim',
  `${NOW}${WRITE_CLAIM}
local now = now_ms()
local current = redis.call('HGETALL', KEYS[1])
if #current > 0 then
  local held = redis.call('HMGET', KEYS[1], 'lease', 'state', 'node')
  local free = held[2] == 'ended' or held[3] == ARGV[2]
  if ARGV[8] == 'claim' and not free then return {0, current, {}, now} end
  if ARGV[8] == 'takeover' and ARGV[9] ~= '' and held[1] ~= ARGV[9] then return {0, current, {}, now} end
end
write_claim(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], now)
redis.call('SADD', KEYS[2], ARGV[1])
return {1, redis.call('HGETALL', KEYS[1]), current, now}
`,
);

/**
 * The heartbeat: writes the node record, then asserts each stream this node holds: renews its
 * lease if the claim is still this one, re-creates it if it is gone or free (Redis restarted
 * empty, a lease lapsed while nobody else claimed, a claim made locally during an outage), and
 * reports it lost if another claim holds it.
 * KEYS: node, nodes index, streams index, then one stream key per held stream.
 * ARGV: node id, node JSON, ttl, address, then per stream: name, lease, state, meta.
 * Returns {lost records, now}.
 */
export const HEARTBEAT = new LuaScript(
  'heartbeat',
  `${NOW}${WRITE_CLAIM}
local now = now_ms()
local ttl = ARGV[3]
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
redis.call('SADD', KEYS[2], ARGV[1])
local lost = {}
for i = 4, #KEYS do
  local key = KEYS[i]
  local a = 5 + (i - 4) * 4
  local name, lease, state, meta = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local cur = redis.call('HMGET', key, 'lease', 'state', 'meta', 'node')
  if cur[1] == lease then
    if cur[2] ~= state or cur[3] ~= meta then
      redis.call('HSET', key, 'state', state, 'meta', meta, 'updatedAt', now)
    end
    redis.call('HSET', key, 'renewedAt', now)
    redis.call('PEXPIRE', key, ttl)
  elseif (not cur[1]) or cur[2] == 'ended' or cur[4] == ARGV[1] then
    write_claim(key, name, ARGV[1], ARGV[4], lease, state, meta, ttl, now)
    redis.call('SADD', KEYS[3], name)
  else
    lost[#lost + 1] = redis.call('HGETALL', key)
  end
end
return {lost, now}
`,
);

/** KEYS: stream, streams index. ARGV: name, lease. Deletes only this claim; returns 1 if it did. */
export const RELEASE = new LuaScript(
  'release',
  `
if redis.call('HGET', KEYS[1], 'lease') == ARGV[2] then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[1])
  return 1
end
return 0
`,
);

/**
 * Leaving the cluster in one step, so no other node sees the node gone with its streams still
 * there (or the reverse). KEYS: node, nodes index, streams index, then one stream key per held
 * stream. ARGV: node id, then per stream: name, lease. Deletes only claims that are still this node's.
 */
export const DEREGISTER = new LuaScript(
  'deregister',
  `
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
for i = 4, #KEYS do
  local a = 2 + (i - 4) * 2
  if redis.call('HGET', KEYS[i], 'lease') == ARGV[a + 1] then
    redis.call('DEL', KEYS[i])
    redis.call('SREM', KEYS[3], ARGV[a])
  end
end
return 1
`,
);

/**
 * Every live node and every stream held by a live node, pruning index entries whose record expired.
 * KEYS: nodes index, streams index. ARGV: key prefix (node and stream keys are built from it, as in cluster-keys.ts).
 * Returns {node JSONs, stream records, now}.
 */
export const SNAPSHOT = new LuaScript(
  'snapshot',
  `${NOW}
local now = now_ms()
local nodes, live = {}, {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local json = redis.call('GET', ARGV[1] .. 'node:' .. id)
  if json then
    nodes[#nodes + 1] = json
    live[id] = true
  else
    redis.call('SREM', KEYS[1], id)
  end
end
local streams = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = ARGV[1] .. 'stream:' .. name
  local node = redis.call('HGET', key, 'node')
  if not node then
    redis.call('SREM', KEYS[2], name)
  elseif live[node] then
    streams[#streams + 1] = redis.call('HGETALL', key)
  end
end
return {nodes, streams, now}
`,
);

/** KEYS: stream. ARGV: key prefix. Returns {record or {} if absent or its node is dead, now}. */
export const LOCATE = new LuaScript(
  'locate',
  `${NOW}
local now = now_ms()
local node = redis.call('HGET', KEYS[1], 'node')
if not node or redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 0 then return {{}, now} end
return {redis.call('HGETALL', KEYS[1]), now}
`,
);

/** KEYS: stream, continuity. ARGV: lease, JSON, ttl. Saves only while this claim holds the stream. */
export const SAVE_CONTINUITY = new LuaScript(
  'save-continuity',
  `
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
`,
);
