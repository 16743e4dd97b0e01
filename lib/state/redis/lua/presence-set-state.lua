--! keys: 2
-- Stores a member's state (with when it expires, 0 for never) and publishes it unless silent;
-- refused (0) when the connection does not hold that identity in the room.
-- KEYS: the room's present members, its states
-- ARGV: id, connection expected to hold it, expiresAt, state JSON, publish command ('' silent), channel, state event
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry or string.match(entry, '^([^\n]*)') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3] .. '\n' .. ARGV[4])
if ARGV[5] ~= '' then redis.call(ARGV[5], ARGV[6], ARGV[7]) end
return 1
