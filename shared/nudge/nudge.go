// Package nudge tells lockbox-notify that a tenant has something to send,
// right after the change: a POST of {"tenantId"} to the gateway's
// /async-function/lockbox-notify (notify_url), which answers at once and
// runs the function in the background. What to send is already recorded
// with the change, so a lost nudge loses nothing: the function also runs
// every minute. Nudges never hold up the call that caused them, and a
// tenant's nudges coalesce: while one is in flight, more changes cost one
// more nudge, not one each.
package nudge

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Client nudges lockbox-notify.
type Client struct {
	url    string
	client *http.Client
	log    *slog.Logger

	mu       sync.Mutex
	inFlight map[string]bool // tenant -> another nudge is wanted after this one
}

// New returns a client posting to url (notify_url); nil when url is empty,
// and a nil client does nothing.
func New(url string, log *slog.Logger) *Client {
	if url == "" {
		return nil
	}
	return &Client{url: url, client: &http.Client{Timeout: 2 * time.Second}, log: log, inFlight: map[string]bool{}}
}

// Nudge asks lockbox-notify to work on tenant soon. It returns at once.
func (c *Client) Nudge(tenant string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if _, busy := c.inFlight[tenant]; busy {
		c.inFlight[tenant] = true
		c.mu.Unlock()
		return
	}
	c.inFlight[tenant] = false
	c.mu.Unlock()
	go c.send(tenant)
}

// send posts nudges for tenant until no more are wanted.
func (c *Client) send(tenant string) {
	body, _ := json.Marshal(struct {
		TenantID string `json:"tenantId"`
	}{tenant}) // a struct of a string always encodes
	for {
		c.post(body)
		c.mu.Lock()
		again := c.inFlight[tenant]
		if !again {
			delete(c.inFlight, tenant)
			c.mu.Unlock()
			return
		}
		c.inFlight[tenant] = false
		c.mu.Unlock()
	}
}

func (c *Client) post(body []byte) {
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
