"""The shared crawl's Redis scripts: each step that reads and writes several keys runs atomically.

Why Lua: taking a request, its lease and a share of the host's budget must be
one step, or two workers could both see the last free slot (a MULTI cannot
branch on what it reads).  Every script takes the crawl's key prefix as
``ARGV[1]`` and builds the per-slot and per-worker key names itself, so the
crawl needs one Redis server (or a primary with replicas), not a Redis Cluster.
Times come from the server's ``TIME``: workers on several machines never
compare their own clocks.  Floats cross the boundary as strings (Redis turns
a Lua number reply into an integer).

What each key holds is listed in :mod:`newsspider.scaleout`.
"""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

_COMMON = r"""
-- Seconds a granted turn waits for its confirmation before the next one may go.
local PENDING = 2.0

local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function fmt(x)
  return string.format('%.6f', x)
end

-- A budget value for a slot: its own entry, the crawl's, else this worker's default.
local function budget(p, field, slot, default)
  local v = redis.call('HGET', p .. ':budget', field .. ':' .. slot)
  if not v then v = redis.call('HGET', p .. ':budget', field) end
  if not v then return default end
  return tonumber(v)
end

-- Keep a slot's score in the index at its queue's best score, or drop the slot.
local function index_head(p, slot)
  local head = redis.call('ZRANGE', p .. ':queue:' .. slot, 0, 0, 'WITHSCORES')
  if #head == 0 then
    redis.call('ZREM', p .. ':queue', slot)
  else
    redis.call('ZADD', p .. ':queue', head[2], slot)
  end
end

local function index_add(p, slot, score)
  local cur = redis.call('ZSCORE', p .. ':queue', slot)
  if (not cur) or tonumber(score) < tonumber(cur) then
    redis.call('ZADD', p .. ':queue', score, slot)
  end
end

-- A lease as recorded by TAKE ("score\nslot\nmember"): score, slot, member; nil if gone.
local function lease_of(p, worker, id)
  local v = redis.call('HGET', p .. ':leased:' .. worker, id)
  if not v then return nil end
  local a = string.find(v, '\n', 1, true)
  local b = string.find(v, '\n', a + 1, true)
  return string.sub(v, 1, a - 1), string.sub(v, a + 1, b - 1), string.sub(v, b + 1)
end

-- Put one leased entry back in its slot's queue, with its score and id.
local function requeue(p, worker, id)
  local score, slot, member = lease_of(p, worker, id)
  if not score then return 0 end
  redis.call('ZADD', p .. ':queue:' .. slot, score, member)
  index_add(p, slot, score)
  redis.call('HDEL', p .. ':leased:' .. worker, id)
  redis.call('ZREM', p .. ':out:' .. slot, worker .. '|' .. id)
  return 1
end

local function drop_tokens(p, worker)
  local mark = worker .. '|'
  for _, slot in ipairs(redis.call('SMEMBERS', p .. ':slots')) do
    for _, kind in ipairs({':out:', ':xfer:'}) do
      local key = p .. kind .. slot
      for _, member in ipairs(redis.call('ZRANGE', key, 0, -1)) do
        if string.sub(member, 1, #mark) == mark then redis.call('ZREM', key, member) end
      end
    end
  end
end
"""

# ARGV: prefix, then per request: slot, score, fingerprint, repeat key, entry.
# A request whose fingerprint ('' = dont_filter) is in the dupefilter set, or
# whose repeat key ('' = none) is in :repeats, is dropped: the repeat key of
# a dont_filter request names its parent lease, so a parent crawled again
# after its worker died does not queue its continuation pages or retries a
# second time.  The others get a 12-digit id (from :seq) before the entry, so
# members stay unique and equal scores pop first in, first out.  Returns one
# 1 (queued) or 0 (dropped) per request.
PUSH = r"""
local p = ARGV[1]
local out = {}
for i = 2, #ARGV, 5 do
  local slot, score, fp, repeat_key = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if (fp ~= '' and redis.call('SADD', p .. ':dupefilter', fp) == 0)
      or (repeat_key ~= '' and redis.call('SADD', p .. ':repeats', repeat_key) == 0) then
    table.insert(out, 0)
  else
    local n = redis.call('INCR', p .. ':seq')
    redis.call('ZADD', p .. ':queue:' .. slot, score, string.format('%012d', n) .. ARGV[i + 4])
    redis.call('SADD', p .. ':slots', slot)
    index_add(p, slot, score)
    table.insert(out, 1)
  end
end
return out
"""

# ARGV: prefix, worker, want window (s), token ttl (s), default per-host limit,
# most to take.  Takes requests while the host of the best one has room: the
# crawl holds fewer than its limit taken and not yet downloaded (:out:<slot>)
# and this worker fewer than ceil(limit / workers wanting).  Returns {1, id,
# slot, entry, id, slot, entry, …} | {0} nothing queued | {2} every host at
# its limit | {3} this worker holds its share where there was room.
TAKE = r"""
local p, worker = ARGV[1], ARGV[2]
local window, ttl, default_limit = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local most = tonumber(ARGV[6])
local now = clock()
redis.call('ZADD', p .. ':want', now, worker)
redis.call('ZREMRANGEBYSCORE', p .. ':want', '-inf', now - window)
local wanting = math.max(1, redis.call('ZCARD', p .. ':want'))
local mark = worker .. '|'
local taken = {1}
local reason = 0
while #taken < 1 + 3 * most do
  local slots = redis.call('ZRANGE', p .. ':queue', 0, -1)
  if #slots == 0 then break end
  local got = false
  reason = 2
  for _, slot in ipairs(slots) do
    local out = p .. ':out:' .. slot
    redis.call('ZREMRANGEBYSCORE', out, '-inf', now)
    local limit = budget(p, 'concurrency', slot, default_limit)
    local holders = redis.call('ZRANGE', out, 0, -1)
    if #holders < limit then
      local mine = 0
      for _, h in ipairs(holders) do
        if string.sub(h, 1, #mark) == mark then mine = mine + 1 end
      end
      if mine < math.ceil(limit / wanting) then
        local popped = redis.call('ZPOPMIN', p .. ':queue:' .. slot)
        index_head(p, slot)
        if #popped > 0 then
          local member, score = popped[1], popped[2]
          local id = string.sub(member, 1, 12)
          redis.call('HSET', p .. ':leased:' .. worker, id, score .. '\n' .. slot .. '\n' .. member)
          redis.call('ZADD', out, now + ttl, mark .. id)
          table.insert(taken, id)
          table.insert(taken, slot)
          table.insert(taken, string.sub(member, 13))
          got = true
          break
        end
      else
        reason = 3
      end
    end
  end
  if not got then break end
end
if #taken > 1 then return taken end
return {reason}
"""

# ARGV: prefix.  Requests queued, all slots.
QUEUED = r"""
local p = ARGV[1]
local n = 0
for _, slot in ipairs(redis.call('ZRANGE', p .. ':queue', 0, -1)) do
  n = n + redis.call('ZCARD', p .. ':queue:' .. slot)
end
return n
"""

# ARGV: prefix, worker, slot, token, ttl, gap factor, default limit, default delay.
# Returns {0, delay} go (a transfer token is held) | {1, ''} the host has its
# limit in flight | {2, seconds} the host's next request is not due yet.
# With a delay, the turn is pending until the worker confirms (CONFIRM) that
# its request is leaving, at most PENDING seconds: the next turn counts from
# the confirmation, which the worker sends in the reactor pass that writes the
# request, not from this grant, which a busy reactor may act on much later.
START = r"""
local p, worker, slot, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ttl, factor = tonumber(ARGV[5]), tonumber(ARGV[6])
local default_limit, default_delay = tonumber(ARGV[7]), tonumber(ARGV[8])
local now = clock()
local xfer = p .. ':xfer:' .. slot
redis.call('ZREMRANGEBYSCORE', xfer, '-inf', now)
if redis.call('ZCARD', xfer) >= budget(p, 'concurrency', slot, default_limit) then
  return {1, ''}
end
local delay = redis.call('HGET', p .. ':delay', slot)
if delay then delay = tonumber(delay) else delay = budget(p, 'delay', slot, default_delay) end
if delay > 0 then
  local due = tonumber(redis.call('HGET', p .. ':next', slot) or '0')
  local pending = tonumber(redis.call('HGET', p .. ':pending', slot) or '0')
  if pending > now then return {2, fmt(math.min(pending - now, delay))} end
  if now < due then return {2, fmt(due - now)} end
  redis.call('HSET', p .. ':next', slot, fmt(now + delay * factor))
  redis.call('HSET', p .. ':pending', slot, fmt(now + PENDING))
end
redis.call('ZADD', xfer, now + ttl, worker .. '|' .. token)
redis.call('SADD', p .. ':slots', slot)
return {0, fmt(delay)}
"""

# ARGV: prefix, slot, gap factor, default delay.  The granted request is
# leaving now: the host's next turn is a delay from here.
CONFIRM = r"""
local p, slot, factor = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = clock()
local delay = redis.call('HGET', p .. ':delay', slot)
if delay then delay = tonumber(delay) else delay = budget(p, 'delay', slot, tonumber(ARGV[4])) end
redis.call('HDEL', p .. ':pending', slot)
redis.call('HSET', p .. ':next', slot, fmt(now + delay * factor))
return fmt(delay)
"""

# ARGV: prefix, worker, slot, token, lease id or '', then for AutoThrottle
# (or '' to leave the delay alone): latency, status, target concurrency,
# min delay, max delay, default start delay.  Returns the slot's delay or ''.
FINISH = r"""
local p, worker, slot = ARGV[1], ARGV[2], ARGV[3]
redis.call('ZREM', p .. ':xfer:' .. slot, worker .. '|' .. ARGV[4])
if ARGV[5] ~= '' then redis.call('ZREM', p .. ':out:' .. slot, worker .. '|' .. ARGV[5]) end
if (not ARGV[6]) or ARGV[6] == '' then return '' end
local latency, status = tonumber(ARGV[6]), tonumber(ARGV[7])
local target_concurrency, mindelay, maxdelay = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local old = redis.call('HGET', p .. ':delay', slot)
if old then old = tonumber(old) else old = budget(p, 'delay', slot, tonumber(ARGV[11])) end
-- Scrapy's AutoThrottle policy (scrapy.extensions.throttle), on the crawl's one delay.
local target = latency / target_concurrency
local new = math.max(target, (old + target) / 2)
new = math.min(math.max(mindelay, new), maxdelay)
if status ~= 200 and new <= old then return fmt(old) end
redis.call('HSET', p .. ':delay', slot, fmt(new))
return fmt(new)
"""

# ARGV: prefix, worker, lease ids...  Drop this worker's share tokens of leases
# handled without a transfer (no ids: nothing).
RELEASE = r"""
local p, worker = ARGV[1], ARGV[2]
for i = 3, #ARGV do
  local _, slot = lease_of(p, worker, ARGV[i])
  if slot then redis.call('ZREM', p .. ':out:' .. slot, worker .. '|' .. ARGV[i]) end
end
return 0
"""

# ARGV: prefix, worker, lease ids...  Done with: forget the leases (and any share token).
ACK = r"""
local p, worker = ARGV[1], ARGV[2]
local n = 0
for i = 3, #ARGV do
  local _, slot = lease_of(p, worker, ARGV[i])
  if slot then
    redis.call('ZREM', p .. ':out:' .. slot, worker .. '|' .. ARGV[i])
    redis.call('HDEL', p .. ':leased:' .. worker, ARGV[i])
    n = n + 1
  end
end
return n
"""

# ARGV: prefix, worker, lease ids... (none: every lease of the worker).
# Puts them back in the queue; returns how many.
GIVE_BACK = r"""
local p, worker = ARGV[1], ARGV[2]
local ids = {}
if #ARGV > 2 then
  for i = 3, #ARGV do table.insert(ids, ARGV[i]) end
else
  ids = redis.call('HKEYS', p .. ':leased:' .. worker)
end
local n = 0
for _, id in ipairs(ids) do n = n + requeue(p, worker, id) end
return n
"""

# The heartbeat.  ARGV: prefix, worker, 'busy'|'idle', worker timeout, key ttl,
# token ttl, then tokens to renew as 'out|slot|id' or 'xfer|slot|token'.
# Workers silent for longer than the timeout are gone: their leases go back
# to the queue and their share of every host's budget is freed.
# Returns {queued, leases outstanding, another worker busy (0/1), last
# activity, requeued, gone workers (space-separated), this worker was known (0/1),
# server time}.
BEAT = r"""
local p, me, state = ARGV[1], ARGV[2], ARGV[3]
local timeout, keyttl, tokenttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local now = clock()
local known = redis.call('HEXISTS', p .. ':workers', me)
redis.call('HSET', p .. ':workers', me, fmt(now) .. ' ' .. state)
if state == 'busy' then redis.call('SET', p .. ':activity', fmt(now)) end
for i = 7, #ARGV do
  local t = ARGV[i]
  local a = string.find(t, '|', 1, true)
  local b = string.find(t, '|', a + 1, true)
  local key = p .. ':' .. string.sub(t, 1, a - 1) .. ':' .. string.sub(t, a + 1, b - 1)
  redis.call('ZADD', key, 'XX', now + tokenttl, me .. '|' .. string.sub(t, b + 1))
end
local workers = redis.call('HGETALL', p .. ':workers')
local requeued, gone, busy, leases = 0, {}, 0, 0
local alive = {}
for i = 1, #workers, 2 do
  local w, v = workers[i], workers[i + 1]
  local sp = string.find(v, ' ', 1, true)
  local stamp, st = tonumber(string.sub(v, 1, sp - 1)), string.sub(v, sp + 1)
  if w ~= me and now - stamp > timeout then
    for _, id in ipairs(redis.call('HKEYS', p .. ':leased:' .. w)) do
      requeued = requeued + requeue(p, w, id)
    end
    redis.call('HDEL', p .. ':workers', w)
    redis.call('ZREM', p .. ':want', w)
    drop_tokens(p, w)
    table.insert(gone, w)
  else
    if w ~= me and st == 'busy' then busy = 1 end
    leases = leases + redis.call('HLEN', p .. ':leased:' .. w)
    table.insert(alive, w)
  end
end
local queued = 0
for _, slot in ipairs(redis.call('ZRANGE', p .. ':queue', 0, -1)) do
  queued = queued + redis.call('ZCARD', p .. ':queue:' .. slot)
end
for _, name in ipairs({'queue', 'dupefilter', 'repeats', 'seed', 'seeded', 'workers', 'activity',
                       'seq', 'want', 'budget', 'delay', 'next', 'pending', 'slots'}) do
  redis.call('EXPIRE', p .. ':' .. name, keyttl)
end
for _, slot in ipairs(redis.call('SMEMBERS', p .. ':slots')) do
  for _, kind in ipairs({':queue:', ':out:', ':xfer:'}) do
    redis.call('EXPIRE', p .. kind .. slot, keyttl)
  end
end
for _, w in ipairs(alive) do redis.call('EXPIRE', p .. ':leased:' .. w, keyttl) end
return {queued, leases, busy, redis.call('GET', p .. ':activity') or '', requeued,
        table.concat(gone, ' '), known, fmt(now)}
"""

# ARGV: prefix, worker, worker timeout, key ttl.  Who seeds: {'seeded', seeder}
# (the start requests are all queued) | {'mine', ''} | {'takeover', old seeder}
# (it went silent before it had queued them all) | {'wait', seeder}.
SEED = r"""
local p, me, timeout, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('EXISTS', p .. ':seeded') == 1 then
  return {'seeded', redis.call('GET', p .. ':seeded') or ''}
end
local holder = redis.call('GET', p .. ':seed')
if not holder then
  redis.call('SET', p .. ':seed', me, 'EX', ttl)
  return {'mine', ''}
end
if holder == me then return {'mine', ''} end
local v = redis.call('HGET', p .. ':workers', holder)
if (not v) or clock() - tonumber(string.sub(v, 1, string.find(v, ' ', 1, true) - 1)) > timeout then
  redis.call('SET', p .. ':seed', me, 'EX', ttl)
  return {'takeover', holder}
end
return {'wait', holder}
"""


class Scripts:
    """The scripts, registered on one client (EVALSHA, loaded again if the server forgot them)."""

    def __init__(self, server: Redis | AsyncRedis) -> None:
        def script(body: str) -> Any:
            return server.register_script(_COMMON + body)

        self.push = script(PUSH)
        self.take = script(TAKE)
        self.queued = script(QUEUED)
        self.start = script(START)
        self.confirm = script(CONFIRM)
        self.finish = script(FINISH)
        self.release = script(RELEASE)
        self.ack = script(ACK)
        self.give_back = script(GIVE_BACK)
        self.beat = script(BEAT)
        self.seed = script(SEED)
