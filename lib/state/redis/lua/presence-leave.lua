--! keys: 2
-- A member leaves a room's presence (its state goes with it), if the given connection still
-- holds that identity (a reconnect may have taken it over), and its leave is published.
-- KEYS: the room's present members, its states
-- ARGV: id, connection expected to hold it, publish command, channel, leave event
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry or string.match(entry, '^([^\n]*)') ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call(ARGV[3], ARGV[4], ARGV[5])
return 1
