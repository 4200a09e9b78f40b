package nudge

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Nudges reach the receiver with the tenant; a burst of changes while one
// nudge is in flight costs one more nudge, not one each; and a nudge never
// waits for the receiver.
func TestNudge(t *testing.T) {
	var calls atomic.Int64
	release := make(chan struct{})
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if calls.Add(1) == 1 {
			<-release // the first nudge is slow
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	c := New(srv.URL, slog.New(slog.NewTextHandler(io.Discard, nil)))

	start := time.Now()
	for range 50 {
		c.Nudge("contoso")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("nudging took %s: it must not wait for the receiver", d)
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if got := calls.Load(); got != 2 {
		t.Fatalf("got %d nudges for 50 changes during one slow nudge, want 2", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if bodies[0] != `{"tenantId":"contoso"}` {
		t.Errorf("got body %q", bodies[0])
	}
	var none *Client
	none.Nudge("contoso") // a nil client does nothing
	if New("", nil) != nil {
		t.Error("New without a URL must return nil")
	}
}
