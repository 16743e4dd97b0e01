--! keys: 2
-- A connection becomes present in a room, or takes over the identity it had before a reconnect
-- (it proves it with the secret given to it at the first join): a takeover publishes nothing,
-- so subscribers see no leave/join. Entries are "<holding connection>\n<secret digest>\n<visible metadata JSON>".
-- KEYS: the room's present members (hash id -> entry), its states (hash id -> "<expiresAt>\n<state JSON>")
-- ARGV: connection id, digest of its new secret, visible metadata JSON ('' none),
--       claimed id ('' none), digest of the claimed secret, publish command, channel, join event,
--       the id the connection's index says it holds here ('' none)
local conn, digest, meta, claimed, claimedDigest, held = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[9]
if held ~= '' then
  local entry = redis.call('HGET', KEYS[1], held)
  if entry and string.match(entry, '^([^\n]*)') == conn then return { 'present', held, '' } end
end
if claimed ~= '' then
  local entry = redis.call('HGET', KEYS[1], claimed)
  if entry then
    local kept = string.match(entry, '^[^\n]*\n([^\n]*)\n')
    if kept == claimedDigest then
      redis.call('HSET', KEYS[1], claimed, conn .. '\n' .. kept .. '\n' .. meta)
      local state = redis.call('HGET', KEYS[2], claimed)
      return { 'resumed', claimed, state and string.match(state, '^([^\n]*)') or '' }
    end
  end
end
if redis.call('HEXISTS', KEYS[1], conn) == 1 then return { 'present', conn, '' } end
redis.call('HSET', KEYS[1], conn, conn .. '\n' .. digest .. '\n' .. meta)
redis.call(ARGV[6], ARGV[7], ARGV[8])
return { 'joined', conn, '' }
