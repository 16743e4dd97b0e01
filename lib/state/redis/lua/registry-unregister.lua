--! keys: 1
-- Removes a client's registration if the node (and, when given, the epoch) owns it. Returns 1 if removed.
-- KEYS: {cl:<client>}
-- ARGV: node id, epoch or ''
local current = redis.call('HGET', KEYS[1], 'owner')
if not current then return 0 end
local node, epoch = string.match(current, '^([^|]*)|([^|]*)|')
if node ~= ARGV[1] or (ARGV[2] ~= '' and epoch ~= ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
return 1
