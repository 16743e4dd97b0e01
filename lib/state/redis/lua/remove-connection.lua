--! keys: 2
-- Forgets a connection's own keys: its owner and metadata, and its set of rooms. With ARGV[1]
-- (a node id) it does so only when that node owns it, or when it has no owner left. Returns
-- { owner node or '', room1, room2, ... }, or {} when another node owns it. The caller then
-- takes it out of its node's set and out of each room (other slots).
-- KEYS: {c:<id>} (hash node, meta), {c:<id>}:rooms
-- ARGV: expected owner node, or '' for any
local node = redis.call('HGET', KEYS[1], 'node')
if ARGV[1] ~= '' and node and node ~= ARGV[1] then return {} end
local out = { node or '' }
for _, room in ipairs(redis.call('SMEMBERS', KEYS[2])) do out[#out + 1] = room end
redis.call('DEL', KEYS[1], KEYS[2])
return out
