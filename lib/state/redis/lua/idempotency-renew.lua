--! keys: 1
-- Extends the lease of a run still going, if the claim is still this run's. Returns 1 or 0.
-- KEYS: {ik:<digest>}
-- ARGV: claim token, lease in ms
local fields = redis.call('HMGET', KEYS[1], 'token', 'state')
if fields[1] ~= ARGV[1] or fields[2] ~= 'running' then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
