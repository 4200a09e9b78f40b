package loopback

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// A stack's functions are all given ports before any binds; the same port
// twice in one process would make one of them fail to start.
func TestFreePortNeverRepeatsWithinAProcess(t *testing.T) {
	seen := map[int]bool{}
	for range 2000 { // 2,000 draws from 10,000 ports: without the record, repeats are certain
		port, err := FreePort()
		require.NoError(t, err)
		require.False(t, seen[port], "port %d handed out twice", port)
		require.True(t, port >= lowPort && port < highPort, "port %d", port)
		seen[port] = true
	}
}

func TestFreePortIsFreeToBind(t *testing.T) {
	port, err := FreePort()
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	require.NoError(t, err, "the port returned is free")
	defer l.Close()
}
