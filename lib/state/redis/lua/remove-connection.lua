--! keys: 3
-- Forgets a connection everywhere: its node entry, its metadata, its room memberships. Returns its rooms.
-- KEYS: connections, connection-meta, connection:<id>:rooms
-- ARGV: connection id, key prefix
-- Derived keys (named from stored values, so they cannot be declared): <prefix>room:<room> for each
-- of its rooms, <prefix>node:<n>:connections of its node. One Redis only (see docs/scaling.md).
local id, prefix = ARGV[1], ARGV[2]
local node = redis.call('HGET', KEYS[1], id)
local rooms = redis.call('SMEMBERS', KEYS[3])
for _, room in ipairs(rooms) do redis.call('SREM', prefix .. 'room:' .. room, id) end
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[2], id)
redis.call('HDEL', KEYS[1], id)
if node then redis.call('SREM', prefix .. 'node:' .. node .. ':connections', id) end
return rooms
