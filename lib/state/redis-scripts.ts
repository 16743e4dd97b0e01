/**
 * Lua scripts of the Redis store. Each runs atomically; metadata travels as opaque JSON text
 * (never decoded inside Lua, so empty arrays and large numbers survive). Key names that depend
 * on stored values are built from the prefix passed in ARGV, so these scripts target a single
 * Redis (or a primary with replicas), not Redis Cluster.
 */

/** ARGV: prefix, connectionId. Removes a connection everywhere; returns its rooms. */
export const REMOVE_CONNECTION = `
local p, id = ARGV[1], ARGV[2]
local node = redis.call('HGET', p .. 'connections', id)
local roomsKey = p .. 'connection:' .. id .. ':rooms'
local rooms = redis.call('SMEMBERS', roomsKey)
for _, room in ipairs(rooms) do redis.call('SREM', p .. 'room:' .. room, id) end
redis.call('DEL', roomsKey)
redis.call('HDEL', p .. 'connection-meta', id)
redis.call('HDEL', p .. 'connections', id)
if node then redis.call('SREM', p .. 'node:' .. node .. ':connections', id) end
return rooms
`;

/** ARGV: prefix, nodeId, dead ('1' records the node as dead, cleanup pending). Removes every connection of a node; returns their ids. */
export const REMOVE_NODE = `
local p, node = ARGV[1], ARGV[2]
local setKey = p .. 'node:' .. node .. ':connections'
local ids = redis.call('SMEMBERS', setKey)
for _, id in ipairs(ids) do
  local roomsKey = p .. 'connection:' .. id .. ':rooms'
  for _, room in ipairs(redis.call('SMEMBERS', roomsKey)) do redis.call('SREM', p .. 'room:' .. room, id) end
  redis.call('DEL', roomsKey)
  redis.call('HDEL', p .. 'connection-meta', id)
  if redis.call('HGET', p .. 'connections', id) == node then redis.call('HDEL', p .. 'connections', id) end
end
redis.call('DEL', setKey)
redis.call('SREM', p .. 'nodes', node)
redis.call('DEL', p .. 'node:' .. node .. ':alive')
redis.call('DEL', p .. 'node:' .. node .. ':instance')
if ARGV[3] == '1' then redis.call('SADD', p .. 'dead-nodes', node) end
return ids
`;

/**
 * ARGV: prefix, instance token. Takes the next node id and records which process holds it.
 * The counter restarts if Redis loses its data, so an id alone could then name two processes;
 * the token tells them apart (see HEARTBEAT).
 */
export const JOIN = `
local p = ARGV[1]
local node = redis.call('INCR', p .. 'node-seq')
redis.call('SET', p .. 'node:' .. node .. ':instance', ARGV[2])
return node
`;

/**
 * ARGV: prefix, nodeId, ttl ms. Lists a node that has just joined, with its first heartbeat in the
 * same step, so that a leader never sees it listed without one (and declares it dead).
 */
export const LIST = `
local p, node = ARGV[1], ARGV[2]
redis.call('SET', p .. 'node:' .. node .. ':alive', '1', 'PX', ARGV[3])
redis.call('SADD', p .. 'nodes', node)
return 1
`;

/**
 * ARGV: prefix, nodeId, ttl ms, instance token. 0 if the node is no longer listed or its id now
 * belongs to another process (it must fence), else 1.
 */
export const HEARTBEAT = `
local p, node = ARGV[1], ARGV[2]
if redis.call('SISMEMBER', p .. 'nodes', node) == 0 then return 0 end
if redis.call('GET', p .. 'node:' .. node .. ':instance') ~= ARGV[4] then return 0 end
redis.call('SET', p .. 'node:' .. node .. ':alive', '1', 'PX', ARGV[3])
return 1
`;

/** ARGV: prefix, nodeId, ttl ms. Takes the leader lock or extends it if held; 1 if leader. */
export const LEAD = `
local key = ARGV[1] .. 'leader'
local holder = redis.call('GET', key)
if holder == ARGV[2] then redis.call('PEXPIRE', key, ARGV[3]) return 1 end
if holder then return 0 end
redis.call('SET', key, ARGV[2], 'PX', ARGV[3])
return 1
`;

/** ARGV: prefix, nodeId. Releases the leader lock only if this node holds it. */
export const RESIGN = `
local key = ARGV[1] .. 'leader'
if redis.call('GET', key) == ARGV[2] then redis.call('DEL', key) end
return 1
`;

/** ARGV: prefix. Listed nodes with no live heartbeat key. */
export const DEAD_NODES = `
local p = ARGV[1]
local dead = {}
for _, node in ipairs(redis.call('SMEMBERS', p .. 'nodes')) do
  if redis.call('EXISTS', p .. 'node:' .. node .. ':alive') == 0 then dead[#dead + 1] = node end
end
return dead
`;

/**
 * ARGV: prefix, connectionId, expected (current JSON, or '' for none), next JSON.
 * Returns -1 if the connection is not registered, 0 if the metadata changed meanwhile, 1 if set.
 */
export const COMPARE_AND_SET_METADATA = `
local p, id = ARGV[1], ARGV[2]
if redis.call('HEXISTS', p .. 'connections', id) == 0 then return -1 end
local current = redis.call('HGET', p .. 'connection-meta', id)
if current == false then current = '' end
if current ~= ARGV[3] then return 0 end
redis.call('HSET', p .. 'connection-meta', id, ARGV[4])
return 1
`;

/**
 * ARGV: prefix, room, connectionId, most rooms per connection (0: no limit). Returns the
 * connection's node, '' if it is not registered, or 0 if it is in the most rooms allowed already
 * (joining a room it is in again always succeeds).
 */
export const ADD_TO_ROOM = `
local p, room, id, most = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local node = redis.call('HGET', p .. 'connections', id)
if not node then return '' end
local roomsKey = p .. 'connection:' .. id .. ':rooms'
if most > 0 and redis.call('SISMEMBER', roomsKey, room) == 0 and redis.call('SCARD', roomsKey) >= most then return 0 end
redis.call('SADD', p .. 'room:' .. room, id)
redis.call('SADD', roomsKey, room)
return node
`;

/** ARGV: prefix, room, connectionId. Returns the connection's node if it was a member, else ''. */
export const REMOVE_FROM_ROOM = `
local p, room, id = ARGV[1], ARGV[2], ARGV[3]
redis.call('SREM', p .. 'connection:' .. id .. ':rooms', room)
if redis.call('SREM', p .. 'room:' .. room, id) == 0 then return '' end
return redis.call('HGET', p .. 'connections', id) or ''
`;

/** ARGV: prefix, room. Empties a room. */
export const CLEAR_ROOM = `
local p, room = ARGV[1], ARGV[2]
local roomKey = p .. 'room:' .. room
for _, id in ipairs(redis.call('SMEMBERS', roomKey)) do redis.call('SREM', p .. 'connection:' .. id .. ':rooms', room) end
redis.call('DEL', roomKey)
return 1
`;

/**
 * ARGV: prefix, then optional connection ids (all connections when none). Returns
 * { id1, meta1 or '', ... } for registered connections. Ids are read in chunks of 1000: Lua's
 * `unpack` fails on a few thousand values at once.
 */
export const METADATA_OF = `
local p = ARGV[1]
local ids, first
if #ARGV > 1 then ids, first = ARGV, 2 else ids, first = redis.call('HKEYS', p .. 'connections'), 1 end
local out = {}
for i = first, #ids, 1000 do
  local chunk = { unpack(ids, i, math.min(i + 999, #ids)) }
  local owners = redis.call('HMGET', p .. 'connections', unpack(chunk))
  local metas = redis.call('HMGET', p .. 'connection-meta', unpack(chunk))
  for j, id in ipairs(chunk) do
    if owners[j] then out[#out + 1] = id; out[#out + 1] = metas[j] or '' end
  end
end
return out
`;
