--! keys: 2
-- Renews a node's heartbeat: its score in `nodes` is the time (Redis's clock, ms) it expires.
-- With ARGV[4] = '1' (the node's first heartbeat) it lists the node; otherwise it returns 0 when
-- the cluster no longer lists the node or its id now belongs to another process (it must fence).
-- KEYS: nodes (sorted set node -> expiry), node-instances
-- ARGV: node id, ttl ms, instance token, first ('1' or '0')
local node, ttl, token, first = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
if first ~= '1' and not redis.call('ZSCORE', KEYS[1], node) then return 0 end
if redis.call('HGET', KEYS[2], node) ~= token then return 0 end
local now = redis.call('TIME')
redis.call('ZADD', KEYS[1], now[1] * 1000 + math.floor(now[2] / 1000) + ttl, node)
return 1
