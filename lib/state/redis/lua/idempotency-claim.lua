--! keys: 1
-- Claims an idempotency key for a first run, or reads the record of the run that holds it.
-- Returns 1 when claimed; otherwise { state, fingerprint, reply } of the holder (reply is nil
-- while it runs, and when its reply was not kept).
-- KEYS: {ik:<digest>}
-- ARGV: claim token, payload fingerprint, lease in ms
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'token', ARGV[1], 'fp', ARGV[2], 'state', 'running')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return redis.call('HMGET', KEYS[1], 'state', 'fp', 'reply')
