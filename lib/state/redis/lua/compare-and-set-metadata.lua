--! keys: 2
-- Replaces a live connection's metadata if it is still what the caller read.
-- Returns -1 if the connection is not registered, 0 if the metadata changed meanwhile, 1 if set.
-- KEYS: connections, connection-meta
-- ARGV: connection id, expected JSON ('' for none), next JSON
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return -1 end
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current == false then current = '' end
if current ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
