--! keys: *
-- Compare-and-set over the records of one commit (one slot): every record must be at its
-- expected version, then each is written or deleted, taking the next version, and its change is
-- published on its topic, in one step, so a record's updates are published in version order
-- whichever node wrote them. A deleted record keeps its version (the hash without a value), so
-- versions never repeat, a delete included.
-- KEYS: the records' hashes (value, version), then the id index (a sorted set) if ARGV[2] == '1'
-- ARGV: publish command (PUBLISH or SPUBLISH), index flag, record count,
--       then per record: expected version, op ('w' or 'd'), id, value (JSON, '' for a delete), topic channel, message
local n = tonumber(ARGV[3])
local index = ARGV[2] == '1' and KEYS[n + 1] or nil
for i = 1, n do
  local at = 4 + (i - 1) * 6
  local version = redis.call('HGET', KEYS[i], 'version') or '0'
  if version ~= ARGV[at] then
    return { 0, i, version, redis.call('HGET', KEYS[i], 'value') }
  end
end
for i = 1, n do
  local at = 4 + (i - 1) * 6
  local next = tonumber(ARGV[at]) + 1
  if ARGV[at + 1] == 'w' then
    local existed = redis.call('HEXISTS', KEYS[i], 'value') == 1
    redis.call('HSET', KEYS[i], 'value', ARGV[at + 3], 'version', next)
    if index and not existed then redis.call('ZADD', index, 0, ARGV[at + 2]) end
  else
    redis.call('HDEL', KEYS[i], 'value')
    redis.call('HSET', KEYS[i], 'version', next)
    if index then redis.call('ZREM', index, ARGV[at + 2]) end
  end
  redis.call(ARGV[1], ARGV[at + 4], ARGV[at + 5])
end
return { 1 }
