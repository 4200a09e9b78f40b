// Command handler serves one OpenFaaS function built with the golang-lockbox
// template. Each HTTP request becomes a handler.Request for function.Handle;
// of-watchdog (mode=http) proxies to it at upstream_url.
//
// Environment: listen_addr (default ":8082"), read_timeout and
// write_timeout (Go durations or whole seconds, default 10s), max_body_bytes
// (default 1 MiB; larger bodies are refused with 413 before the handler runs).
//
// The golang-http Request carries no URL path, and functions that route by
// path (a portal's pages, a webhook receiver per source) need it: the
// template hands it over in the header X-Lockbox-Path (HeaderPath), which it
// always sets itself, so a caller cannot choose it. Behind the gateway the
// path is what follows /function/<name>, e.g. "/requests/abc"; "/" for none.
package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"handler/function"

	handler "github.com/openfaas/templates-sdk/go-http"
)

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	readTimeout := duration("read_timeout", 10*time.Second)
	writeTimeout := duration("write_timeout", 10*time.Second)
	srv := &http.Server{
		Addr:              env("listen_addr", ":8082"),
		Handler:           serve(maxBody(), function.Handle),
		ReadTimeout:       readTimeout,
		ReadHeaderTimeout: readTimeout,
		WriteTimeout:      writeTimeout,
		MaxHeaderBytes:    64 << 10,
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("listening", "addr", srv.Addr)

	select {
	case err := <-errc:
		slog.Error("server stopped", "err", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	// Let calls in flight finish, as the watchdog does on SIGTERM.
	shutdown, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		slog.Error("shutdown", "err", err)
		os.Exit(1)
	}
}

// defaultMaxBody is the body cap without max_body_bytes (1 MiB).
const defaultMaxBody = 1 << 20

// maxBody is the largest request body served: max_body_bytes, or
// defaultMaxBody.
func maxBody() int64 { return int64(number("max_body_bytes", defaultMaxBody)) }

// serve adapts net/http to the golang-http handler contract: each request
// becomes a handler.Request for handle (function.Handle). A body over
// maxBody is refused with 413 before handle runs; HeaderPath is set from the
// URL, whatever the caller sent in it; an error from handle is a 500 whose
// body says only "internal error" (the error is logged).
func serve(maxBody int64, handle func(handler.Request) (handler.Response, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read request body", http.StatusBadRequest)
			return
		}
		r.Header.Set(HeaderPath, pathOf(r))
		req := handler.Request{Body: body, Header: r.Header, QueryString: r.URL.RawQuery, Method: r.Method, Host: r.Host}
		req.WithContext(r.Context())

		resp, err := handle(req)
		if err != nil {
			slog.Error("handler failed", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		status := resp.StatusCode
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		_, _ = w.Write(resp.Body)
	}
}

// HeaderPath carries the request's URL path to the handler.
const HeaderPath = "X-Lockbox-Path"

// pathOf is the path the function was called with; "/" for none.
func pathOf(r *http.Request) string {
	if r.URL.Path == "" {
		return "/"
	}
	return r.URL.Path
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func duration(name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d
	}
	if v != "" {
		slog.Warn("ignoring malformed duration", "name", name, "value", v)
	}
	return def
}

func number(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
