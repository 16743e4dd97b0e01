--! keys: 2
-- The connection's half of a join (the room's member set was added to just before): returns its
-- node, '' if it is not registered, or 0 if it is in the most rooms allowed already (joining a
-- room it is in again always succeeds).
-- KEYS: {c:<id>} (hash node, meta), {c:<id>}:rooms
-- ARGV: room, most rooms per connection (0: no limit)
local room, most = ARGV[1], tonumber(ARGV[2])
local node = redis.call('HGET', KEYS[1], 'node')
if not node then return '' end
if most > 0 and redis.call('SISMEMBER', KEYS[2], room) == 0 and redis.call('SCARD', KEYS[2]) >= most then return 0 end
redis.call('SADD', KEYS[2], room)
return node
