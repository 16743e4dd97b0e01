--! keys: 2
-- The connection's half of a leave (the room's member set is removed from right after): returns
-- its node, or '' if it is not registered.
-- KEYS: {c:<id>} (hash node, meta), {c:<id>}:rooms
-- ARGV: room
redis.call('SREM', KEYS[2], ARGV[1])
return redis.call('HGET', KEYS[1], 'node') or ''
