--! keys: 1
-- Gives a claim up while its run is still going (the run failed unexpectedly), so that a retry
-- may run the command again. Returns 1 or 0.
-- KEYS: {ik:<digest>}
-- ARGV: claim token
local fields = redis.call('HMGET', KEYS[1], 'token', 'state')
if fields[1] ~= ARGV[1] or fields[2] ~= 'running' then return 0 end
redis.call('DEL', KEYS[1])
return 1
