--! keys: 2
-- Takes the next node id and records which process holds it. The counter restarts if Redis
-- loses its data, so an id alone could then name two processes; the token tells them apart.
-- KEYS: node-seq (counter), node-instances (hash node -> token)
-- ARGV: instance token
local node = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], node, ARGV[1])
return node
