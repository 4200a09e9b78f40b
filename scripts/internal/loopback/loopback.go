// Package loopback finds free loopback ports for the processes the
// developer tooling starts (make run, make bench).
package loopback

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
)

// Ports are drawn at random from [lowPort, highPort): below the kernel's
// ephemeral range (32768+), so no outgoing connection holds one, and apart
// from the ranges scripts/with-redis*.sh use (12000-31999). A port is only
// checked here; the process it is meant for binds it later. Within one
// process a port is never handed out twice (a stack's functions are given
// their ports before any of them binds); between processes, such as two test
// binaries starting stacks side by side, the random draw from ten thousand
// makes a clash rare.
const lowPort, highPort = 2000, 12000

var (
	mu    sync.Mutex
	given = map[int]bool{}
)

// FreePort returns a loopback port nothing listens on right now and that
// this process has not handed out before.
func FreePort() (int, error) {
	mu.Lock()
	defer mu.Unlock()
	for range 50 {
		port := lowPort + rand.IntN(highPort-lowPort) // #nosec G404 -- a port number, not a secret
		if given[port] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		_ = l.Close()
		given[port] = true
		return port, nil
	}
	return 0, errors.New("loopback: no free port found in 50 draws")
}
