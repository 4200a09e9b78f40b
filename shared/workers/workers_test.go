package workers

import (
	"sync/atomic"
	"testing"
)

func TestEach(t *testing.T) {
	for _, c := range []struct{ n, workers int }{{0, 8}, {1, 8}, {100, 8}, {5, 1}, {3, 10}} {
		var calls, running, most atomic.Int64
		seen := make([]atomic.Bool, c.n)
		Each(c.n, c.workers, func(i int) {
			now := running.Add(1)
			for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
			}
			if seen[i].Swap(true) {
				t.Errorf("n=%d: %d called twice", c.n, i)
			}
			calls.Add(1)
			running.Add(-1)
		})
		if got := calls.Load(); got != int64(c.n) {
			t.Errorf("n=%d workers=%d: got %d calls, want %d", c.n, c.workers, got, c.n)
		}
		if most.Load() > int64(c.workers) {
			t.Errorf("n=%d workers=%d: %d ran at once", c.n, c.workers, most.Load())
		}
	}
}
