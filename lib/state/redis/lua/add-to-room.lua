--! keys: 3
-- Adds a registered connection to a room. Returns its node, '' if it is not registered, or 0 if
-- it is in the most rooms allowed already (joining a room it is in again always succeeds).
-- KEYS: connections, room:<room>, connection:<id>:rooms
-- ARGV: room, connection id, most rooms per connection (0: no limit)
local room, id, most = ARGV[1], ARGV[2], tonumber(ARGV[3])
local node = redis.call('HGET', KEYS[1], id)
if not node then return '' end
if most > 0 and redis.call('SISMEMBER', KEYS[3], room) == 0 and redis.call('SCARD', KEYS[3]) >= most then return 0 end
redis.call('SADD', KEYS[2], id)
redis.call('SADD', KEYS[3], room)
return node
