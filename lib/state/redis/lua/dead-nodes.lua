--! keys: 1
-- Listed nodes whose heartbeat expired (by Redis's clock, so node clocks do not matter).
-- KEYS: nodes
local now = redis.call('TIME')
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now[1] * 1000 + math.floor(now[2] / 1000))
