--! keys: 1
-- A dead node's cleanup, for one client already recorded as its orphan: deletes the
-- registration if the dead node still owns it. Returns 1 if deleted, 0 if the client moved on
-- (then it is no orphan and the caller forgets the record).
-- KEYS: {cl:<client>}
-- ARGV: dead node id
local current = redis.call('HGET', KEYS[1], 'owner')
if not current or string.match(current, '^([^|]*)') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
