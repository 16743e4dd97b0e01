--! keys: 2
-- Appends a message to a recoverable stream and publishes it with its position, in one step, so
-- offsets are published in the order they were given whichever node published them.
-- KEYS: the stream's log (a Redis stream, ids 0-<offset>), its position (hash: epoch, top)
-- ARGV: epoch for a stream that has none yet, messages kept, ttl ms, position ttl ms,
--       publish command (PUBLISH or SPUBLISH), channel, message
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'top', 0)
end
local offset = redis.call('HINCRBY', KEYS[2], 'top', 1)
-- Approximate trimming (whole internal nodes) is far cheaper than exact; the window is still
-- exactly the last ARGV[2] offsets, since stream-read.lua refuses to replay more than that.
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '0-' .. offset, 'm', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call(ARGV[5], ARGV[6], epoch .. ' ' .. offset .. '\n' .. ARGV[7])
return { epoch, offset }
