--! keys: 1
-- Empties a room.
-- KEYS: room:<room>
-- ARGV: room, key prefix
-- Derived keys: <prefix>connection:<id>:rooms of each member.
local room, prefix = ARGV[1], ARGV[2]
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do redis.call('SREM', prefix .. 'connection:' .. id .. ':rooms', room) end
redis.call('DEL', KEYS[1])
return 1
