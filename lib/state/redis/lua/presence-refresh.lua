--! keys: 1
-- Replaces the visible metadata of a member's entry (its metadata changed), if the given
-- connection still holds the identity. Nothing is published: the update types have no room for
-- it; snapshots and reads show it from now on.
-- KEYS: the room's present members
-- ARGV: id, connection expected to hold it, visible metadata JSON ('' none)
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
local holder, digest = string.match(entry, '^([^\n]*)\n([^\n]*)\n')
if holder ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], holder .. '\n' .. digest .. '\n' .. ARGV[3])
return 1
