--! keys: 2
-- A room's present members and their states, as one snapshot (two replies of one step).
-- KEYS: the room's present members, its states
return { redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]) }
