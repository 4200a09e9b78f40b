package lockboxtest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Two tests that take turns on one service: the second holds it only once
// the first has ended.
func TestTakeTurns(t *testing.T) {
	service := fmt.Sprintf("take-turns-%d", time.Now().UnixNano())
	var mu sync.Mutex
	var order []string
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	held := make(chan struct{})
	t.Run("both", func(t *testing.T) {
		t.Run("first", func(t *testing.T) {
			t.Parallel()
			TakeTurns(t, service)
			close(held)
			time.Sleep(100 * time.Millisecond)
			note("first ends")
		})
		t.Run("second", func(t *testing.T) {
			t.Parallel()
			<-held
			TakeTurns(t, service)
			note("second holds")
		})
	})
	assert.Equal(t, []string{"first ends", "second holds"}, order)
}
