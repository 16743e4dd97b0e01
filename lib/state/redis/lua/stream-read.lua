--! keys: 2
-- Reads a recoverable stream's position and, when a client gives where it was, what it missed:
-- all of it (recovered) or nothing (the epoch changed, or the window no longer holds it all).
-- A stream without a position gets one, so a new subscriber has an epoch to come back with.
-- KEYS: the stream's log, its position
-- ARGV: epoch for a stream that has none yet, position ttl ms, the client's epoch ('' for none),
--       the client's last offset, messages kept
-- Returns { epoch, top, status, offset1, message1, ... }; status 0: no position given,
-- 1: recovered (the entries follow, oldest first), 2: not recovered.
local epoch = redis.call('HGET', KEYS[2], 'epoch')
local top = 0
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'top', 0)
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
else
  top = tonumber(redis.call('HGET', KEYS[2], 'top'))
end
if ARGV[3] == '' then return { epoch, top, 0 } end
local after = tonumber(ARGV[4])
if ARGV[3] ~= epoch or after > top then return { epoch, top, 2 } end
local missed = top - after
if missed == 0 then return { epoch, top, 1 } end
if missed > tonumber(ARGV[5]) then return { epoch, top, 2 } end
local entries = redis.call('XRANGE', KEYS[1], '(0-' .. after, '+', 'COUNT', missed)
-- Trimmed or expired: the first entry is not the one right after the client's offset.
if #entries ~= missed or entries[1][1] ~= '0-' .. (after + 1) then return { epoch, top, 2 } end
local out = { epoch, top, 1 }
for i = 1, #entries do
  out[#out + 1] = after + i
  out[#out + 1] = entries[i][2][2]
end
return out
