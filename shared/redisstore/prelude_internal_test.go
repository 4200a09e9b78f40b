package redisstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestResolveNames(t *testing.T) {
	got := resolveNames(`if st == S.Pending then redis.call('ZADD', key('all'), 1, id) end ` +
		`redis.call('ZREM', key('status', S.Approved), id) local s = redis.call('HGET', key('req', id), 'S.x')`)
	assert.Equal(t, `if st == 'Pending' then redis.call('ZADD', key('idx:all'), 1, id) end `+
		`redis.call('ZREM', key('idx:status:', 'Approved'), id) local s = redis.call('HGET', key('req:', id), 'S.x')`, got)

	assert.PanicsWithValue(t, `redisstore: a script names the unknown status "Pendng"`, func() { resolveNames(`S.Pendng`) })
	assert.PanicsWithValue(t, `redisstore: a script names the unknown key "alll"`, func() { resolveNames(`key('alll')`) })
}
