--! keys: 1
-- Replaces a client's metadata if the node owns it. Returns 1 if replaced.
-- KEYS: {cl:<client>}
-- ARGV: node id, metadata JSON or ''
local current = redis.call('HGET', KEYS[1], 'owner')
if not current or string.match(current, '^([^|]*)') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], 'meta') else redis.call('HSET', KEYS[1], 'meta', ARGV[2]) end
return 1
