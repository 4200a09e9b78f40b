// Package nudge tells lockbox-notify that tenants have something to send,
// right after the change: a POST of {"tenantIds": [...]} to the gateway's
// /async-function/lockbox-notify (notify_url), which answers at once and
// runs the function in the background. What to send is already recorded
// with the change, so a lost nudge loses nothing: the function also runs
// every minute.
//
// Nudges never hold up the call that caused them, and they are paced: a
// process sends at most one nudge per Interval, naming every tenant changed
// since the last one. The first change after a quiet spell is nudged at
// once; under load, a thousand changes a second cost ten nudges, not a
// thousand HTTP calls from the function and a thousand runs of
// lockbox-notify.
package nudge

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Interval is the least time between two nudges of one process.
const Interval = 100 * time.Millisecond

// MaxTenants is the most tenants one nudge names; more wait for the next.
// lockbox-notify refuses a longer list.
const MaxTenants = 500

// Body is a nudge as lockbox-notify reads it.
type Body struct {
	TenantIDs []string `json:"tenantIds"`
}

// Client nudges lockbox-notify.
type Client struct {
	url      string
	client   *http.Client
	log      *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	changed map[string]struct{} // tenants changed since the last nudge
	running bool                // the sending goroutine is alive
}

// New returns a client posting to url (notify_url); nil when url is empty,
// and a nil client does nothing.
func New(url string, log *slog.Logger) *Client {
	if url == "" {
		return nil
	}
	return &Client{url: url, client: &http.Client{Timeout: 2 * time.Second}, log: log, interval: Interval,
		changed: map[string]struct{}{}}
}

// Nudge asks lockbox-notify to work on tenant soon. It returns at once.
func (c *Client) Nudge(tenant string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.changed[tenant] = struct{}{}
	start := !c.running
	c.running = true
	c.mu.Unlock()
	if start {
		go c.send()
	}
}

// send posts nudges, one per interval, until no tenant is waiting.
func (c *Client) send() {
	for {
		c.mu.Lock()
		if len(c.changed) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		tenants := slices.Sorted(maps.Keys(c.changed))
		if len(tenants) > MaxTenants {
			tenants = tenants[:MaxTenants]
		}
		for _, t := range tenants {
			delete(c.changed, t)
		}
		c.mu.Unlock()

		next := time.Now().Add(c.interval)
		c.post(tenants)
		time.Sleep(time.Until(next))
	}
}

func (c *Client) post(tenants []string) {
	body, err := json.Marshal(Body{TenantIDs: tenants})
	if err != nil {
		c.log.Warn("cannot nudge lockbox-notify", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		c.log.Warn("cannot nudge lockbox-notify", "err", err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		c.log.Debug("nudge of lockbox-notify failed; it runs on its schedule anyway", "err", err)
		return
	}
	_ = resp.Body.Close()
}
