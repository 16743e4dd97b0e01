--! keys: 2
-- Clears a member's state and publishes `state: null` if it had one. Either the member clears
-- it (ARGV[2]: the connection expected to hold the identity; refused with 0 otherwise), or its
-- expiry does (ARGV[3]: the expiry the timer was set for; a state published since is kept).
-- KEYS: the room's present members, its states
-- ARGV: id, connection expected to hold it ('' any), expiry expected ('' any), publish command, channel, state event
if ARGV[2] ~= '' then
  local entry = redis.call('HGET', KEYS[1], ARGV[1])
  if not entry or string.match(entry, '^([^\n]*)') ~= ARGV[2] then return 0 end
end
local state = redis.call('HGET', KEYS[2], ARGV[1])
if ARGV[3] ~= '' and (not state or string.match(state, '^([^\n]*)') ~= ARGV[3]) then return 0 end
if state then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call(ARGV[4], ARGV[5], ARGV[6])
end
return 1
