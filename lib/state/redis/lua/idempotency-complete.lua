--! keys: 1
-- Records a run's outcome for its retries, if the claim is still this run's (a lease that ran
-- out may have let another run take it). Returns 1 or 0.
-- KEYS: {ik:<digest>}
-- ARGV: claim token, how long to keep it in ms, '1' when a reply is kept, the reply (JSON)
local fields = redis.call('HMGET', KEYS[1], 'token', 'state')
if fields[1] ~= ARGV[1] or fields[2] ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done')
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'reply', ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
