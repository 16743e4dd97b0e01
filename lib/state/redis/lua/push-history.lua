--! keys: 1
-- Keeps a message in a channel's history: newest first, the last ARGV[2] only, expiring ARGV[3]
-- ms after this push when above 0 (else the list keeps the expiry it has).
-- KEYS: history:<channel>
-- ARGV: message, how many to keep, ttl ms
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
