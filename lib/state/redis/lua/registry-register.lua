--! keys: 1
-- Registers (or moves) a client to a node. Returns { node it was taken from or '', epoch }.
-- The epoch grows with every registration of the client; a client seen for the first time (or
-- again after its entry was deleted) starts from Redis's clock in microseconds, above any epoch
-- it had before, so an old kick can never close a newer connection.
-- KEYS: {cl:<client>} (hash owner "node|epoch|connectedAt", meta, epoch)
-- ARGV: node id, metadata JSON or '', connectedAt
local previous = redis.call('HGET', KEYS[1], 'owner')
local superseded = ''
if previous then
  local previousNode = string.match(previous, '^([^|]*)')
  if previousNode ~= ARGV[1] then superseded = previousNode end
end
local epoch
if redis.call('HEXISTS', KEYS[1], 'epoch') == 1 then
  epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
else
  local now = redis.call('TIME')
  epoch = tonumber(now[1]) * 1000000 + tonumber(now[2])
  redis.call('HSET', KEYS[1], 'epoch', string.format('%d', epoch))
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1] .. '|' .. string.format('%d', epoch) .. '|' .. ARGV[3])
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], 'meta') else redis.call('HSET', KEYS[1], 'meta', ARGV[2]) end
return { superseded, epoch }
