--! keys: 2
-- Empties a room's presence (the room was cleared) and publishes a leave for each member.
-- KEYS: the room's present members, its states
-- ARGV: publish command, channel, room name as JSON, timestamp
local ids = redis.call('HKEYS', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
for _, id in ipairs(ids) do
  redis.call(ARGV[1], ARGV[2], '{"type":"leave","connectionId":' .. cjson.encode(id) .. ',"roomName":' .. ARGV[3] .. ',"timestamp":' .. ARGV[4] .. '}')
end
return #ids
