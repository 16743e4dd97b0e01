--! keys: 2
-- Metadata of the given connections (all when none are given), registered ones only: { id1, meta1 or '', ... }.
-- Ids are read in chunks of 1000: Lua's unpack fails on a few thousand values at once.
-- KEYS: connections, connection-meta
-- ARGV: connection ids
local ids
if #ARGV > 0 then ids = ARGV else ids = redis.call('HKEYS', KEYS[1]) end
local out = {}
for i = 1, #ids, 1000 do
  local chunk = { unpack(ids, i, math.min(i + 999, #ids)) }
  local owners = redis.call('HMGET', KEYS[1], unpack(chunk))
  local metas = redis.call('HMGET', KEYS[2], unpack(chunk))
  for j, id in ipairs(chunk) do
    if owners[j] then out[#out + 1] = id; out[#out + 1] = metas[j] or '' end
  end
end
return out
