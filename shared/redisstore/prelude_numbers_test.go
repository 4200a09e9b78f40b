package redisstore_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/redisstore"
)

// The prelude prints numbers and netstring heads without Lua's own number
// printing (ms, head); what they print is what that would.
func TestPreludePrintsNumbersAsLuaDoes(t *testing.T) {
	src := redisstore.RenderPlanted(`
if A.id ~= 'numbers' then return {'unexpected call'} end
local bad = {}
local values = {0, 1, 9, 10, 999999999, 1000000000, 1000000001, 1796004706608, 1796724706608, 1000000000000007,
  999999999999999999, -5, -1796724706608, 2^53, 1e18}
for _, v in ipairs(values) do
  if ms(v) ~= string.format('%.0f', v) then bad[#bad + 1] = string.format('%.0f', v) .. ' printed ' .. ms(v) end
end
for n = 0, 1500 do
  local s = string.rep('x', n)
  if head(s) ~= n .. ':' then bad[#bad + 1] = 'length ' .. n .. ' headed ' .. head(s) end
end
return bad`)
	eachBackend(t, func(t *testing.T, b backend) {
		got, err := b.rdb.Eval(t.Context(), src, []string{"lb:{numbers}:x"}, "lb:{numbers}:", "numbers").StringSlice()
		require.NoError(t, err)
		assert.Empty(t, got)
	})
}
