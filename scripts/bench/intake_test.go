package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/intake"
)

// Each item's delivery is signed as Jira signs it, is a delivery of its
// own, and maps to a request in the item's tenant, for a requester and a
// ticket of its own.
func TestJiraDelivery(t *testing.T) {
	d, err := newJiraDelivery()
	require.NoError(t, err)
	now := time.Now()
	seen := map[string]bool{}
	for _, it := range []Item{{Tenant: "bench-intake-http-c8-abc123-7", Key: "12"}, {Tenant: "bench-intake-http-c8-abc123-8", Key: "13"}} {
		body := d.body(it)
		h := d.headers(body, now)
		assert.Equal(t, "application/json", h.Get("Content-Type"))
		assert.Regexp(t, `^sha256=[0-9a-f]{64}$`, h.Get(intake.HeaderJiraSignature))

		del, err := d.source.Verify(h, body, now)
		require.NoError(t, err)
		assert.False(t, del.Derived, "Jira's delivery id")
		assert.False(t, seen[del.ID], "a delivery of its own")
		seen[del.ID] = true

		out, err := d.source.Route(body)
		require.NoError(t, err)
		assert.Equal(t, intake.DoCreate, out.Do)
		assert.Equal(t, it.Tenant, out.TenantID)
		assert.Equal(t, "eng-"+it.Key+"@support.example", out.Input.Requester.ID)
		assert.Equal(t, "ACC-"+it.Key, out.Input.SupportRequest)
		assert.NoError(t, out.Input.Validate())
	}
}

// The intake run posts each delivery to the Jira source's path and wants
// 201.
func TestIntakeCaller(t *testing.T) {
	d, err := newJiraDelivery()
	require.NoError(t, err)
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		paths = append(paths, r.Method+" "+r.URL.Path)
		if _, err := d.source.Verify(r.Header, body, time.Now()); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	g := &generator{client: srv.Client()}
	call, err := g.intakeCaller(Job{URL: srv.URL})
	require.NoError(t, err)
	require.NoError(t, call(context.Background(), Item{Tenant: "bench-intake-1", Key: "1"}))
	assert.Equal(t, []string{"POST /jira"}, paths)
}
