--! keys: 1
-- Takes the leader lock, or extends it when this node holds it. Returns 1 while leader.
-- KEYS: leader
-- ARGV: node id, ttl ms
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
