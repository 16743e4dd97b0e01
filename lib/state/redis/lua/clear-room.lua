--! keys: 1
-- The room's half of clearing it: empties the member set and returns who was in it (the caller
-- then takes the room out of each member's set of rooms, in their slots).
-- KEYS: {r:<room>}
local members = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return members
