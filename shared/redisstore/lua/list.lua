-- This script reads one page, newest first, from one or two sorted-set
-- indexes of a tenant (scored by the tenant's request sequence number),
-- keeping the requests whose effective status is the one wanted. Each index
-- is read from the cursor down until limit+1 matches are found or cap
-- entries were examined, so a page costs O(log N + page + cap) however many
-- requests the tenant has. When an index stops at the cap, the page ends at
-- the lowest sequence number it examined and the cursor continues from there.
-- A page also ends, with a cursor, once its records hold maxBytes (it always
-- holds at least one): a page's memory is bounded whatever the records hold.
--
-- The records, pending and grant keys of each id are read by name: they
-- share the tenant's hash tag with the indexes, so this stays in one slot.
--
-- With hide ('1', the customer's roles), a request the provider's internal
-- review holds (its record's internal = '1') is left out.
--
-- KEYS: the indexes. A: listArgs (scripts.go).
-- Returns {next cursor seq or "", {id, pendingLive, grantLive, {record}}...}.
local want, limit, cap, maxBytes = A.status, tonumber(A.limit), tonumber(A.cap), tonumber(A.maxBytes)
local items, frontier = {}, nil
for s = 1, #KEYS do
  local max, found, scanned, exhausted = A.cursor, 0, 0, false
  while found <= limit and scanned < cap do
    local n = math.min(limit + 1, cap - scanned)
    local chunk = redis.call('ZRANGE', KEYS[s], max, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, n, 'WITHSCORES')
    for i = 1, #chunk, 2 do
      local id = chunk[i]
      scanned = scanned + 1
      max = '(' .. chunk[i + 1]
      local h = redis.call('HGETALL', key('req', id))
      if #h > 0 then
        local p = redis.call('EXISTS', key('pending', id))
        local g = redis.call('EXISTS', key('grant', id))
        local st, size, hidden = nil, 0, false
        for j = 1, #h, 2 do
          if h[j] == 'status' then st = h[j + 1] end
          if h[j] == 'internal' and h[j + 1] == '1' then hidden = A.hide == '1' end
          size = size + #h[j + 1]
        end
        if not hidden and (want == '' or effective(st, p, g) == want) then
          found = found + 1
          items[#items + 1] = {tonumber(chunk[i + 1]), id, p, g, h, size}
          if found > limit then break end
        end
      end
    end
    if #chunk < 2 * n then exhausted = true end
    if exhausted then break end
  end
  if not exhausted and found <= limit then
    local last = tonumber(string.sub(max, 2))
    if frontier == nil or last > frontier then frontier = last end
  end
end
table.sort(items, function(a, b) return a[1] > b[1] end)
local out, n, last, more, seen, bytes = {''}, 0, nil, false, {}, 0
for _, it in ipairs(items) do
  if frontier ~= nil and it[1] < frontier then more = true break end
  if not seen[it[2]] then
    if n == limit or (n > 0 and bytes + it[6] > maxBytes) then more = true break end
    seen[it[2]] = true
    n = n + 1
    last = it[1]
    bytes = bytes + it[6]
    out[#out + 1] = {it[2], it[3], it[4], it[5]}
  end
end
if more then
  out[1] = string.format('%.0f', last)
elseif frontier ~= nil then
  out[1] = string.format('%.0f', frontier)
end
return out
