--! keys: 1
-- Releases the leader lock, only if this node holds it.
-- KEYS: leader
-- ARGV: node id
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
