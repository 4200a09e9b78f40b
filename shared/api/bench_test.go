package api_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"
	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/httpapi"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/redisclient"
	"lockbox.dev/shared/redisstore"
	"lockbox.dev/shared/usecase"
)

// benchService is the service a function builds, on the real Redis of
// LOCKBOX_TEST_REDIS_URL (make bench's) or miniredis, with the real clock
// and production's text logger writing nowhere.
func benchService(b *testing.B) (*api.Service, *redisstore.Store) {
	store := apitest.New(b).Store
	if url := os.Getenv("LOCKBOX_TEST_REDIS_URL"); url != "" {
		opt, err := redis.ParseURL(url)
		if err != nil {
			b.Fatal(err)
		}
		redisclient.Tune(opt)
		rdb := redis.NewClient(opt)
		b.Cleanup(func() { _ = rdb.Close() })
		store = redisstore.New(rdb, lockbox.DefaultLimits)
	}
	store.Caps = redisstore.Caps{MaxPendingPerTenant: 1 << 30, MaxPendingPerRequester: 1 << 30, MaxActiveGrantsPerRequester: 1 << 30}
	cases := &usecase.Service{Store: store, SettingsStore: store, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return &api.Service{Cases: cases, Auth: auth.NewVerifier([][]byte{apitest.WebhookSecret}, [][]byte{apitest.JWTSecret}, "", "", time.Now)}, store
}

// BenchmarkFlows is one call of each function's flow, from the request the
// template hands over to the response it writes: what a function spends
// per call besides HTTP. make bench measures the same calls end to end.
func BenchmarkFlows(b *testing.B) {
	svc, store := benchService(b)
	lazy := app.Fixed(svc)
	tenant := fmt.Sprintf("bench-flows-%d", time.Now().UnixNano())
	token, err := auth.Mint(apitest.JWTSecret, auth.NewClaims("approver-1", tenant, []string{string(lockbox.RoleApprover)}, time.Now(), time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	file := func() string {
		n++
		in := apitest.CreateInput(tenant, "eng-"+strconv.Itoa(n))
		r, _, err := store.Create(b.Context(), lockbox.NewRequest(in, lockbox.NewID(), time.Now(), store.Limits()), lockbox.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		return r.RequestID
	}
	post := func(body string) handler.Request {
		return handler.Request{Method: http.MethodPost, Body: []byte(body),
			Header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + token}}}
	}
	call := func(b *testing.B, flow api.Flow, req handler.Request, want int) {
		resp, err := httpapi.Serve(lazy.Get, req, flow)
		if err != nil || resp.StatusCode != want {
			b.Fatalf("%d %v: %s", resp.StatusCode, err, resp.Body)
		}
	}

	b.Run("create", func(b *testing.B) {
		for b.Loop() {
			n++
			body := apitest.JSON(apitest.CreateInput(tenant, "eng-"+strconv.Itoa(n)))
			ts := time.Now().Unix()
			h := http.Header{"Content-Type": {"application/json"}}
			h.Set(auth.HeaderTimestamp, strconv.FormatInt(ts, 10))
			h.Set(auth.HeaderSignature, auth.Sign(apitest.WebhookSecret, ts, []byte(body)))
			call(b, api.Create, handler.Request{Method: http.MethodPost, Header: h, Body: []byte(body)}, http.StatusCreated)
		}
	})
	for _, decision := range []struct {
		name string
		flow api.Flow
	}{{"approve", api.Approve}, {"deny", api.Deny}} {
		b.Run(decision.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				id := file()
				b.StartTimer()
				call(b, decision.flow, post(`{"requestId":"`+id+`","reason":"benchmark"}`), http.StatusOK)
			}
		})
	}
	b.Run("list", func(b *testing.B) {
		req := handler.Request{Method: http.MethodGet, QueryString: "limit=50", Header: http.Header{"Authorization": {"Bearer " + token}}}
		for b.Loop() {
			call(b, api.List, req, http.StatusOK)
		}
	})
}
