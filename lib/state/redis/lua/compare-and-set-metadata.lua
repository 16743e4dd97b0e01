--! keys: 1
-- Replaces a live connection's metadata if it is still what the caller read.
-- Returns -1 if the connection is not registered, 0 if the metadata changed meanwhile, 1 if set.
-- KEYS: {c:<id>} (hash node, meta)
-- ARGV: expected JSON ('' for none), next JSON
if redis.call('HEXISTS', KEYS[1], 'node') == 0 then return -1 end
local current = redis.call('HGET', KEYS[1], 'meta')
if current == false then current = '' end
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'meta', ARGV[2])
return 1
