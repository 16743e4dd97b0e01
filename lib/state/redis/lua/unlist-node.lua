--! keys: 3
-- Takes a node out of the cluster. With ARGV[2] = '1' it is recorded as dead with its cleanup
-- pending, in the same step, so a leader that dies before the cleanup leaves it to the next one.
-- KEYS: nodes, node-instances, dead-nodes
-- ARGV: node id, dead ('1' or '0')
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if ARGV[2] == '1' then redis.call('SADD', KEYS[3], ARGV[1]) end
return 1
