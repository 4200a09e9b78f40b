-- This script turns up to A.limit timers due by A.nowMs into
-- notifications: a reminder or escalation of a request still pending, the
-- end notice of a grant still live, the escalation of emergency access the
-- customer has not reviewed by its deadline (whatever its status now); a
-- timer whose request moved on is dropped, and so is a reminder overtaken
-- by a later one already due (a run that was down for a day sends the
-- nearer reminder once, not both).
-- KEYS[1]: the timers. A: timerArgs (notify.go).
-- Returns the number of notifications recorded.
local function overtaken(member, id, now)
  local offset = tonumber(string.match(member, ':(%d+)$'))
  for other in string.gmatch(redis.call('HGET', key('req', id), 'remind') or '', '[^,]+') do
    if tonumber(other) < offset then
      local due = redis.call('ZSCORE', KEYS[1], 'remind:' .. id .. ':' .. other)
      if due and tonumber(due) <= tonumber(now) then return true end
    end
  end
  return false
end
local due = redis.call('ZRANGE', KEYS[1], '-inf', A.nowMs, 'BYSCORE', 'LIMIT', 0, tonumber(A.limit))
local fired = 0
for _, member in ipairs(due) do
  local kind, id = string.match(member, '^(%a+):([^:]+)')
  redis.call('ZREM', KEYS[1], member)
  if id then
    local st = redis.call('HGET', key('req', id), 'status')
    if st then
      st = current(st, id)
      local t
      if kind == 'remind' and st == S.Pending and not overtaken(member, id, A.nowMs) then t = NOTE_REMINDER
      elseif kind == 'escalate' and st == S.Pending then t = NOTE_ESCALATED
      elseif kind == 'ending' and st == S.Approved then t = NOTE_ENDING
      elseif kind == 'review' and (redis.call('HGET', key('req', id), 'reviewVerdict') or '') == '' then
        t = NOTE_EMERGENCY_UNREVIEWED
      end
      if t then
        note(t, id, A.nowMs, ACTOR_SYSTEM, SYSTEM_ACTOR, '')
        fired = fired + 1
      end
    end
  end
end
return fired
