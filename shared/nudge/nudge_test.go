package nudge

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// receiver is a stand-in for the gateway's async route: it records each
// nudge's tenants and holds the first one until released.
type receiver struct {
	*httptest.Server
	release chan struct{}
	mu      sync.Mutex
	nudges  [][]string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{release: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var b Body
		assert.Equal(t, "application/json", req.Header.Get("Content-Type"))
		assert.NoError(t, json.NewDecoder(req.Body).Decode(&b))
		r.mu.Lock()
		r.nudges = append(r.nudges, b.TenantIDs)
		first := len(r.nudges) == 1
		r.mu.Unlock()
		if first {
			<-r.release
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.nudges)
}

// holding returns a client pacing at 1 ms whose first nudge, for tenant,
// the receiver has and holds until released.
func holding(t *testing.T, tenant string) (*receiver, *Client) {
	r := newReceiver(t)
	c := New(r.URL, quiet())
	c.interval = time.Millisecond
	c.Nudge(tenant)
	require.Eventually(t, func() bool { return len(r.got()) == 1 }, 5*time.Second, time.Millisecond)
	return r, c
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// The first change is nudged at once; every change made while that nudge is
// on its way goes in the next one, each tenant named once; a nudge never
// waits for the receiver.
func TestNudgesAreBatched(t *testing.T) {
	r, c := holding(t, "contoso")
	start := time.Now()
	for i := range 1000 {
		c.Nudge([]string{"fabrikam", "contoso", "northwind"}[i%3])
	}
	assert.Less(t, time.Since(start), time.Second, "nudging must not wait for the receiver")
	close(r.release)
	require.Eventually(t, func() bool { return len(r.got()) == 2 }, 5*time.Second, time.Millisecond)
	assert.Eventually(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return !c.running }, 5*time.Second, time.Millisecond,
		"the sender stops when nothing waits")
	assert.Equal(t, [][]string{{"contoso"}, {"contoso", "fabrikam", "northwind"}}, r.got())

	// After a quiet spell the next change is nudged again.
	c.Nudge("northwind")
	require.Eventually(t, func() bool { return len(r.got()) == 3 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, []string{"northwind"}, r.got()[2])
}

// A process sends at most one nudge per interval, however many changes it
// makes.
func TestNudgesArePaced(t *testing.T) {
	r := newReceiver(t)
	close(r.release)
	c := New(r.URL, quiet())
	c.interval = 200 * time.Millisecond
	stop := time.Now().Add(500 * time.Millisecond)
	changes := 0
	for time.Now().Before(stop) {
		c.Nudge("contoso")
		changes++
		time.Sleep(100 * time.Microsecond)
	}
	time.Sleep(300 * time.Millisecond)
	got := len(r.got())
	// 500 ms of changes at one nudge per 200 ms: at 0, 200, 400 and
	// possibly 600 ms.
	assert.LessOrEqual(t, got, 4, "%d nudges for %d changes", got, changes)
	assert.GreaterOrEqual(t, got, 2)
}

// A nudge names at most MaxTenants; the rest go in the next one.
func TestNudgeNamesAtMostMaxTenants(t *testing.T) {
	r, c := holding(t, "t-first")
	for i := range MaxTenants + 100 {
		c.Nudge(fmt.Sprintf("t-%04d", i))
	}
	close(r.release)
	require.Eventually(t, func() bool { return len(r.got()) == 3 }, 5*time.Second, time.Millisecond)
	got := r.got()
	assert.Len(t, got[1], MaxTenants)
	assert.Len(t, got[2], 100)
	assert.Equal(t, "t-0000", got[1][0])
	assert.Equal(t, fmt.Sprintf("t-%04d", MaxTenants+99), got[2][99])
}

func TestNilClient(t *testing.T) {
	var none *Client
	none.Nudge("contoso") // does nothing
	assert.Nil(t, New("", nil), "no URL, no client")
}
