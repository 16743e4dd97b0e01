--! keys: *
-- Compare-and-set over the records of one commit (one slot): every record must be at its
-- expected version, then each is written or deleted, taking the next version, and its change is
-- published on its topic, in one step, so a record's updates are published in version order
-- whichever node wrote them. A deleted record keeps its version (the hash without a value), so
-- versions never repeat, a delete included.
-- Fairness: a writer that lost the race becomes the record's waiter for a moment (fields
-- `waiter`, `wait-until`); until it commits (or the moment passes) other writers are refused
-- with `blocked`, so a node writing back to back cannot starve another one.
-- KEYS: the records' hashes (value, version), then the id index (a sorted set) if ARGV[2] == '1'
-- ARGV: publish command (PUBLISH or SPUBLISH), index flag, record count, the writer's token, how
--       long a waiter holds (ms), then per record: expected version, op ('w' or 'd'), id,
--       value (JSON, '' for a delete), topic channel, message
-- Returns { 1 } when committed, else { 0, index, version, value, blocked (1 or 0) }.
local n = tonumber(ARGV[3])
local token = ARGV[4]
local index = ARGV[2] == '1' and KEYS[n + 1] or nil
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
for i = 1, n do
  local at = 6 + (i - 1) * 6
  local state = redis.call('HMGET', KEYS[i], 'version', 'waiter', 'wait-until')
  local version = state[1] or '0'
  local waiting = state[2] and tonumber(state[3]) > now
  local blocked = waiting and state[2] ~= token
  if version ~= ARGV[at] or blocked then
    if not waiting then redis.call('HSET', KEYS[i], 'waiter', token, 'wait-until', now + tonumber(ARGV[5])) end
    return { 0, i, version, redis.call('HGET', KEYS[i], 'value'), blocked and 1 or 0 }
  end
end
for i = 1, n do
  local at = 6 + (i - 1) * 6
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
  redis.call('HDEL', KEYS[i], 'waiter', 'wait-until')
  redis.call(ARGV[1], ARGV[at + 4], ARGV[at + 5])
end
return { 1 }
