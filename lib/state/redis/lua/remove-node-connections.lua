--! keys: 3
-- Removes up to ARGV[2] connections of a (dead or leaving) node, as remove-connection does for
-- each, in one bounded step; call again until it reports 0 left. Returns { left, id1, id2, ... }.
-- KEYS: node:<n>:connections, connections, connection-meta
-- ARGV: node id, batch size, key prefix
-- Derived keys: <prefix>connection:<id>:rooms and <prefix>room:<room> of each removed connection.
local node, batch, prefix = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local ids = redis.call('SPOP', KEYS[1], batch)
local out = { 0 }
for _, id in ipairs(ids) do
  local roomsKey = prefix .. 'connection:' .. id .. ':rooms'
  for _, room in ipairs(redis.call('SMEMBERS', roomsKey)) do redis.call('SREM', prefix .. 'room:' .. room, id) end
  redis.call('DEL', roomsKey)
  redis.call('HDEL', KEYS[3], id)
  if redis.call('HGET', KEYS[2], id) == node then redis.call('HDEL', KEYS[2], id) end
  out[#out + 1] = id
end
out[1] = redis.call('SCARD', KEYS[1])
return out
