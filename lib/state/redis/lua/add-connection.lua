--! keys: 3
-- Records a connection as owned by a node, with its initial metadata (if any).
-- KEYS: connections (hash id -> node), node:<n>:connections (set), connection-meta (hash id -> JSON)
-- ARGV: connection id, node id, metadata JSON or '' for none
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
return 1
