// Package loopback finds free loopback ports for the processes the
// developer tooling starts (make run, make bench).
package loopback

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
)

// Ports are drawn at random from [lowPort, highPort): below the kernel's
// ephemeral range (32768+), so no outgoing connection holds one, and apart
// from the ranges scripts/with-redis*.sh use (12000-31999). A port the
// kernel hands to "127.0.0.1:0" is soon handed to the next caller too, so
// two stacks started side by side (parallel tests) could be given the same
// port between its check here and the process binding it; a random draw
// from ten thousand makes that rare.
const lowPort, highPort = 2000, 12000

// FreePort returns a loopback port nothing listens on right now.
func FreePort() (int, error) {
	for range 50 {
		port := lowPort + rand.IntN(highPort-lowPort) // #nosec G404 -- a port number, not a secret
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		_ = l.Close()
		return port, nil
	}
	return 0, errors.New("loopback: no free port found in 50 draws")
}
