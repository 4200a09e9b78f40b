package mailcatcher

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeepsTheNewest(t *testing.T) {
	c, err := Start(context.Background(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	for i := range Capacity + 5 {
		c.store(&Message{ID: strconv.Itoa(i)})
	}
	got := c.Messages()
	require.Len(t, got, Capacity, "messages kept")
	assert.Equal(t, strconv.Itoa(Capacity+4), got[0].ID, "the newest first")
	assert.Equal(t, "5", got[len(got)-1].ID, "the five oldest are gone")
}
