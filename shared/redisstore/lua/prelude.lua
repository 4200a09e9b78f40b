-- The prelude's functions: every script runs after them. The lines before
-- them are rendered from the domain (prelude.go): transition(a), the row of
-- lockbox.Transitions for action a, and the names of notes, operations and
-- actors. Every script takes the tenant's key prefix as its argument prefix.
--
-- key(name, suffix) is the tenant's key of that name (keys.go); readRecord(rk)
-- reads the fields of applyFields of the record rk, then, for a request
-- that left Pending or was filed for the provider's internal review, those
-- of laterFields; F.<field> are their places.
--
-- effective(status, pendingLive, grantLive) is lockbox.EffectiveStatus;
-- current(status, id) reads the one TTL key that decides it.
--
-- event(op, id, timeMs, actorKind, actorId, from, to, reason, support)
-- appends an audit event to the tenant's stream in EventField's layout and
-- returns its seq: the tenant's event counter, incremented in the same step.
--
-- count(field) adds one to the tenant's counters (key 'stats').
--
-- apply(id, action, o) carries out an action on a request: the one
-- implementation of every action a caller or a tenant's settings take, used
-- by the create script (automatic decisions) and the act script. An action
-- that ends a grant (revoke) records its access receipt too (receipt).
-- lockbox.Apply is its specification in Go, which no production code runs:
-- the lifecycle scenarios hold this function to it.
local P = A.prefix
local function key(name, suffix) return P .. name .. (suffix or '') end
local function readRecord(rk)
  local f = redis.call('HMGET', rk, unpack(F))
  local st = f[F.status]
  if f[F.reviewReq] or (st and st ~= S.Pending and st ~= S.InternalReview) then
    local r, n = redis.call('HMGET', rk, unpack(FR)), #f
    for i = 1, #r do f[n + i] = r[i] end
  end
  return f
end
local function effective(st, pendingLive, grantLive)
  if (st == S.Pending or st == S.InternalReview) and pendingLive == 0 then return S.Expired end
  if st == S.Approved and grantLive == 0 then return S.Completed end
  return st
end
-- current is the effective status of request id recorded as st: only the
-- TTL key of its own status can change it, so only that key is read.
local function current(st, id)
  if st == S.Pending or st == S.InternalReview then return effective(st, redis.call('EXISTS', key('pending', id)), 1) end
  if st == S.Approved then return effective(st, 1, redis.call('EXISTS', key('grant', id))) end
  return st
end
-- head(s) is the head of s's netstring: its length in decimal, then ':'.
-- Lua turns a number into a string with sprintf('%.14g'), about 2,000
-- instructions each, and an event and a note have 16 lengths (some 7% of a
-- decision's work in Redis); string.char makes a length under 1000 for a
-- few hundred.
local char = string.char
local function head(s)
  local n = #s
  if n < 10 then return char(48 + n, 58) end
  local d1 = n % 10
  local m = (n - d1) / 10
  if m < 10 then return char(48 + m, 48 + d1, 58) end
  local d2 = m % 10
  m = (m - d2) / 10
  if m < 10 then return char(48 + m, 48 + d2, 48 + d1, 58) end
  return n .. ':'
end
-- ms(n) is the whole number n (milliseconds, hours, a seq) in decimal.
-- '%.0f' goes through the C library's floating-point printing, twice the
-- work of '%d'; but '%d' prints a C long, which may have 32 bits, so a
-- number of 10^9 or more is printed as two parts under 10^9.
local fmt = string.format
local function ms(n)
  if n >= 0 and n < 1e18 then
    local lo = n % 1e9
    if lo == n then return fmt('%d', n) end
    return fmt('%d%09d', (n - lo) / 1e9, lo)
  end
  return fmt('%.0f', n)
end
local function event(op, id, t, actorKind, actorId, from, to, reason, support)
  local seq = redis.call('INCR', key('auditSeq'))
  local s = ms(seq)
  from, to, reason, support = from or '', to or '', reason or '', support or ''
  -- One concatenation builds the netstrings (half the time of one per
  -- field; string.format's %s would cut a short field at a NUL byte).
  redis.call('XADD', key('events'), '*', EVENT_FIELD, head(s) .. s .. head(op) .. op .. head(id) .. id .. head(t) .. t ..
    head(actorKind) .. actorKind .. head(actorId) .. actorId .. head(from) .. from .. head(to) .. to ..
    head(reason) .. reason .. head(support) .. support)
  return seq
end
local function fail(...) return {'err', ...} end
-- count adds one to the tenant's counter field (tr:<operation> for a
-- transition, ck:<result> for a check), in the same step as what it counts:
-- lockbox-metrics sums them over the tenants (Store.Stats).
local function count(field) redis.call('HINCRBY', key('stats'), field, 1) end
-- note records a notification in the tenant's outbox, in the same step as
-- the change it tells of: type, requestId, time, actorKind, actorId, reason
-- as netstrings (outboxField).
local function note(t, id, now, actorKind, actorId, reason)
  if t == '' then return end -- the provider's internal review tells the customer nothing
  reason = reason or ''
  redis.call('XADD', key('outbox'), '*', OUTBOX_FIELD, head(t) .. t .. head(id) .. id .. head(now) .. now ..
    head(actorKind) .. actorKind .. head(actorId) .. actorId .. head(reason) .. reason)
end
-- timer members name a request's reminders ("remind:<id>:<offset ms>"),
-- escalation ("escalate:<id>") and grant's end notice ("ending:<id>").
local function dropTimers(id, remind)
  local members = {'escalate:' .. id}
  for offset in string.gmatch(remind or '', '[^,]+') do members[#members + 1] = 'remind:' .. id .. ':' .. offset end
  redis.call('ZREM', key('timers'), unpack(members))
end
-- overCap refuses when the sorted set live (ids by when they end) holds max
-- or more entries that end after now, naming which cap and when its first
-- entry ends. Entries that ended are left to the sweep's settle, which
-- removes them; they are not counted.
local function overCap(live, max, which, now)
  max = tonumber(max)
  -- ZCARD is O(1) and counts ended entries too: under max, so is ZCOUNT.
  if redis.call('ZCARD', live) < max then return nil end
  local after = '(' .. now
  if redis.call('ZCOUNT', live, after, '+inf') < max then return nil end
  return fail('cap', which, redis.call('ZRANGE', live, after, '+inf', 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')[2])
end
-- apply carries out action a (an action of transition()) on request id, as
-- lockbox.Apply specifies, and returns nil and the record as it now stands
-- (the fields of readRecord as read, and the fields written as name/value
-- pairs), or a refusal before anything was written. o holds
-- actorKind, actorId, principal, reason, now (ms), duration ('' or hours),
-- maxAccess (ms), maxGrants, only ('' or a requester key), hide ('1': the
-- customer's roles, to whom what the internal review holds is not found),
-- pendingTTL (ms: the approval window an internal review's release opens).
local apply
-- release sends a request whose internal review is complete to the
-- customer: Pending, its approval window starting now, its reminders and
-- escalation set, the customer told (or the tenant's automatic decision,
-- taken when it was filed, applied now).
local function release(id, f, fields, o)
  local rk, now = key('req', id), o.now
  local expMs = ms(tonumber(now) + tonumber(o.pendingTTL))
  local n = #fields
  fields[n + 1], fields[n + 2], fields[n + 3], fields[n + 4], fields[n + 5], fields[n + 6] =
    'status', S.Pending, 'expMs', expMs, 'internal', '0'
  redis.call('SET', key('pending', id), '1', 'PX', o.pendingTTL)
  redis.call('ZADD', key('livePending'), expMs, id)
  redis.call('ZADD', key('liveReqPend', f[F.requesterKey]), expMs, id)
  local timers = {}
  for offset in string.gmatch(f[F.remind] or '', '[^,]+') do
    timers[#timers + 1] = ms(tonumber(expMs) - tonumber(offset))
    timers[#timers + 1] = 'remind:' .. id .. ':' .. offset
  end
  local esc = tonumber(f[F.escalateMs] or '0')
  if esc > 0 then
    timers[#timers + 1] = ms(tonumber(now) + esc)
    timers[#timers + 1] = 'escalate:' .. id
  end
  if #timers > 0 then redis.call('ZADD', key('timers'), unpack(timers)) end
  redis.call('HSET', rk, unpack(fields))
  redis.call('ZREM', key('status', S.InternalReview), id)
  redis.call('ZADD', key('status', S.Pending), f[F.seq], id)
  local tr = transition('internalApprove')
  event(tr.op, id, now, o.actorKind, o.actorId, tr.from, tr.to, o.reason, f[F.support])
  local auto = f[F.autoAction] or ''
  if auto ~= '' then
    local refused, record = apply(id, auto, {actorKind = ACTOR_SYSTEM, actorId = f[F.autoActor], principal = '',
      reason = f[F.autoReason], now = now, duration = '', maxAccess = o.maxAccess, maxGrants = o.maxGrants, only = '',
      hide = '', pendingTTL = o.pendingTTL})
    if not refused then return nil, record end
  end
  note(NOTE_CREATED, id, now, ACTOR_ENGINEER, redis.call('HGET', rk, 'requester'), '')
  return nil, {f, fields}
end
apply = function(id, a, o)
  local tr, rk, now = transition(a), key('req', id), o.now
  local f = readRecord(rk)
  if not f[F.status] then return fail('notfound') end
  local rkey = f[F.requesterKey]
  if o.only ~= '' and rkey ~= o.only then return fail('notfound') end
  if o.hide == '1' and f[F.internal] == '1' then return fail('notfound') end
  local pendingKey, grantKey = key('pending', id), key('grant', id)
  local st = current(f[F.status], id)
  if a == 'cancel' and st == S.InternalReview then tr = transition('cancelReview') end -- withdrawn before the customer was asked
  -- A provider-approver's approval is an emergency approval exactly when
  -- the record is emergency access (break-glass), whichever was asked.
  local emergency = f[F.emergency] or ''
  if a == 'internalApprove' or a == 'emergencyApprove' then
    if emergency ~= '' then a = 'emergencyApprove' else a = 'internalApprove' end
    tr = transition(a)
  end
  if st ~= tr.from then return fail('state', a, st) end
  if a == 'emergencyApprove' and redis.call('HGET', key('settings'), 'breakGlass') == 'deny' then
    -- The tenant refused break-glass since it was filed (its id is the
    -- key prefix "lb:{<tenant>}:" without its first 4 and last 2 bytes).
    return fail('breakGlass', P:sub(5, -3))
  end
  if tr.own and o.principal ~= '' and (o.principal == rkey or o.principal == f[F.filedBy]) then return fail('own', a) end
  local to, fields, grant = tr.to, {}, nil
  local asked, grantMs = tonumber(f[F.duration]), tonumber(f[F.grantMs])
  if tr.review then
    local keys = f[F.intKeys] or ''
    if keys ~= '' and string.find('\n' .. keys .. '\n', '\n' .. o.principal .. '\n', 1, true) then return fail('twiceReview') end
    local item = '{"by":' .. cjson.encode(o.actorId) .. ',"ms":' .. now .. '}'
    local list, count = f[F.intApprovals], 1
    if not list or list == '' or list == '[]' then
      list = '[' .. item .. ']'
    else
      list = string.sub(list, 1, -2) .. ',' .. item .. ']'
      count = #cjson.decode(list)
    end
    if keys == '' then keys = o.principal else keys = keys .. '\n' .. o.principal end
    fields[1], fields[2], fields[3], fields[4] = 'intApprovals', list, 'intKeys', keys
    if count < tonumber(f[F.reviewReq] or '1') then
      redis.call('HSET', rk, unpack(fields))
      event(tr.op, id, now, o.actorKind, o.actorId, tr.from, tr.from, o.reason, f[F.support])
      return nil, {f, fields}
    end
    if tr.to == S.Pending then return release(id, f, fields, o) end
    grant = grantMs -- emergency access: live at once (below)
  elseif tr.quorum then
    local keys = f[F.approverKeys] or ''
    if keys ~= '' and string.find('\n' .. keys .. '\n', '\n' .. o.principal .. '\n', 1, true) then return fail('twice') end
    local hours = asked
    if o.duration ~= '' then
      if tonumber(o.duration) > asked then return fail('duration', f[F.duration]) end
      hours = tonumber(o.duration)
    end
    local item = '{"by":' .. cjson.encode(o.actorId) .. ',"reason":' .. cjson.encode(o.reason) .. ',"ms":' .. now ..
      ',"duration":' .. ms(hours) .. '}'
    -- The first approval (of one, or the first of a quorum) is the list
    -- alone: no need to decode it.
    local list, approvals = f[F.approvals]
    if not list or list == '' or list == '[]' then
      list, approvals = '[' .. item .. ']', {{duration = hours}}
    else
      list = string.sub(list, 1, -2) .. ',' .. item .. ']'
      approvals = cjson.decode(list)
    end
    if keys == '' then keys = o.principal else keys = keys .. '\n' .. o.principal end
    fields[1], fields[2], fields[3], fields[4] = 'approvals', list, 'approverKeys', keys
    if #approvals < tonumber(f[F.required] or '1') then
      redis.call('HSET', rk, unpack(fields))
      event(tr.op, id, now, o.actorKind, o.actorId, tr.from, tr.from, o.reason, f[F.support])
      note(NOTE_APPROVAL, id, now, o.actorKind, o.actorId, o.reason)
      count('tr:' .. a)
      return nil, {f, fields}
    end
    grant = grantMs
    for _, ap in ipairs(approvals) do
      if ap.duration ~= asked then grant = math.min(grant, ap.duration * 3600000) end
    end
  elseif to == S.Approved then
    grant = grantMs
  end
  local grants
  if grant then
    local cap = tonumber(f[F.maxGrantMs] or '0')
    if cap > 0 then grant = math.min(grant, cap) end
    grant = math.min(grant, tonumber(o.maxAccess))
    grants = key('liveGrants', rkey)
    local refused = overCap(grants, o.maxGrants, 'grants', now)
    if refused then return refused end
  end
  fields[#fields + 1] = 'status'
  fields[#fields + 1] = to
  if tr.from == S.Pending or tr.from == S.InternalReview then
    redis.call('DEL', pendingKey)
    redis.call('ZREM', key('livePending'), id)
    redis.call('ZREM', key('liveReqPend', rkey), id)
    dropTimers(id, f[F.remind])
  elseif tr.from == S.Approved then
    redis.call('DEL', grantKey)
    redis.call('ZREM', key('due'), 'g:' .. id)
    redis.call('ZREM', key('liveGrants', rkey), id)
    redis.call('ZREM', key('timers'), 'ending:' .. id)
    fields[#fields + 1] = 'accessExpMs'
    fields[#fields + 1] = now
  end
  if grant then
    local untilMs = ms(tonumber(now) + grant)
    redis.call('SET', grantKey, '1', 'PX', ms(grant))
    redis.call('ZADD', key('due'), untilMs, 'g:' .. id)
    redis.call('ZADD', grants, untilMs, id)
    if grant > ENDING_NOTICE_MS then
      redis.call('ZADD', key('timers'), ms(tonumber(untilMs) - ENDING_NOTICE_MS), 'ending:' .. id)
    end
    fields[#fields + 1] = 'accessExpMs'
    fields[#fields + 1] = untilMs
  end
  if a == 'emergencyApprove' then
    -- Shown to the customer now, who must review it within the review
    -- window (f.emergency, ms): it waits in 'unreviewed' until then.
    local due = ms(tonumber(now) + tonumber(emergency))
    local n = #fields
    fields[n + 1], fields[n + 2], fields[n + 3], fields[n + 4] = 'internal', '0', 'reviewDueMs', due
    redis.call('ZADD', key('timers'), due, 'review:' .. id)
    redis.call('ZADD', key('unreviewed'), f[F.seq], id)
  end
  local by = 'dec'
  if tr.closes then by = 'end' end
  if tr.decides or tr.closes then
    local n = #fields
    fields[n + 1], fields[n + 2], fields[n + 3], fields[n + 4], fields[n + 5], fields[n + 6] =
      by .. 'By', o.actorId, by .. 'Reason', o.reason, by .. 'Ms', now
  end
  redis.call('HSET', rk, unpack(fields))
  redis.call('ZREM', key('status', tr.from), id)
  redis.call('ZADD', key('status', to), f[F.seq], id)
  event(tr.op, id, now, o.actorKind, o.actorId, tr.from, to, o.reason, f[F.support])
  note(tr.note, id, now, o.actorKind, o.actorId, o.reason)
  if tr.receipt then note(NOTE_RECEIPT, id, now, o.actorKind, o.actorId, o.reason) end
  count('tr:' .. a)
  return nil, {f, fields}
end
