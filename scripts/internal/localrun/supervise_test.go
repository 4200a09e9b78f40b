package localrun

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// A crashing process is restarted, its crash logged, its output prefixed.
func TestProcessRestartsOnCrash(t *testing.T) {
	var out, logs syncBuffer
	p := &process{name: "crashy", path: "/bin/sh", args: []string{"-c", "echo started; echo oops >&2; exit 3"},
		out: &out, log: slog.New(slog.NewTextHandler(&logs, nil)), minBackoff: 10 * time.Millisecond, maxBackoff: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { p.run(ctx); close(done) }()
	require.Eventually(t, func() bool { return p.starts.Load() >= 3 }, 5*time.Second, 10*time.Millisecond)
	cancel()
	<-done
	assert.Contains(t, out.String(), "[crashy] started\n")
	assert.Contains(t, out.String(), "[crashy] oops\n")
	assert.Contains(t, logs.String(), "process exited; restarting")
	assert.Contains(t, logs.String(), "exit status 3")
}

// Stopping sends SIGTERM and waits for the process.
func TestProcessStops(t *testing.T) {
	var out syncBuffer
	p := &process{name: "sleepy", path: "/bin/sh", args: []string{"-c", "trap 'echo bye; exit 0' TERM; echo up; while :; do sleep 0.05; done"},
		out: &out, log: slog.New(slog.DiscardHandler), minBackoff: time.Second, maxBackoff: time.Second}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { p.run(ctx); close(done) }()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "up") }, 5*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(7 * time.Second):
		t.Fatal("process not stopped")
	}
	assert.False(t, p.running.Load())
	assert.Contains(t, out.String(), "[sleepy] bye", "it got SIGTERM and could clean up")
	assert.EqualValues(t, 1, p.starts.Load(), "a stop is not a crash: no restart")
}
