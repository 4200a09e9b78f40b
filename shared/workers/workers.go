// Package workers runs work side by side with a bound on how much at once.
package workers

import (
	"sync"
	"sync/atomic"
)

// Each calls f(0..n-1) from at most workers goroutines and returns when all
// calls have.
func Each(n, workers int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, workers) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}
