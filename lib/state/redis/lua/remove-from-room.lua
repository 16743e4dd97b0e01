--! keys: 3
-- Removes a connection from a room. Returns its node if it was a member, else ''.
-- KEYS: connection:<id>:rooms, room:<room>, connections
-- ARGV: room, connection id
redis.call('SREM', KEYS[1], ARGV[1])
if redis.call('SREM', KEYS[2], ARGV[2]) == 0 then return '' end
return redis.call('HGET', KEYS[3], ARGV[2]) or ''
