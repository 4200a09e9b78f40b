package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"
)

// adapter builds the HTTP handler of the template around a function's
// handle, with a body cap: serve, or a planted defect of it.
type adapter func(maxBody int64, handle func(handler.Request) (handler.Response, error)) http.Handler

func templateAdapter(maxBody int64, handle func(handler.Request) (handler.Response, error)) http.Handler {
	return serve(maxBody, handle)
}

// call sends r to h and returns the answer.
func call(h http.Handler, r *http.Request) *http.Response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func bodyOf(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// checkBodyCap fails t unless an adapter with cap limit hands a body of
// limit bytes to the function whole and refuses one more byte with 413
// before the function runs, with or without a Content-Length. It reports
// with t.Errorf only, so that a recorder can run it against a planted
// defect.
func checkBodyCap(t testing.TB, a adapter, limit int64) {
	t.Helper()
	var got []byte
	calls := 0
	h := a(limit, func(req handler.Request) (handler.Response, error) {
		calls++
		got = req.Body
		return handler.Response{StatusCode: http.StatusOK}, nil
	})
	full := bytes.Repeat([]byte("a"), int(limit))
	if resp := call(h, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(full))); resp.StatusCode != http.StatusOK || !bytes.Equal(got, full) {
		t.Errorf("a body of %d bytes: status %d, the function got %d bytes, want 200 and all of them", limit, resp.StatusCode, len(got))
	}
	for _, length := range []string{"declared", "chunked"} {
		calls = 0
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(append(full, 'a')))
		if length == "chunked" {
			r.ContentLength = -1
		}
		if resp := call(h, r); resp.StatusCode != http.StatusRequestEntityTooLarge || calls != 0 {
			t.Errorf("a %s body of %d bytes: status %d, the function ran %d times, want 413 and never", length, limit+1, resp.StatusCode, calls)
		}
	}
}

// checkPathFromURL fails t unless the function sees in HeaderPath the
// URL's path and only that, whatever the caller sent in the header.
func checkPathFromURL(t testing.TB, a adapter) {
	t.Helper()
	var seen []string
	h := a(defaultMaxBody, func(req handler.Request) (handler.Response, error) {
		seen = req.Header.Values(HeaderPath)
		return handler.Response{StatusCode: http.StatusOK}, nil
	})
	for _, c := range []struct {
		target string
		sent   []string
		want   string
	}{
		{"/requests/abc", []string{"/settings"}, "/requests/abc"},
		{"/requests/abc?x=1", nil, "/requests/abc"},
		{"/", []string{"/admin", "/settings"}, "/"},
		{"/jira", []string{""}, "/jira"},
	} {
		r := httptest.NewRequest(http.MethodGet, c.target, nil)
		for _, v := range c.sent {
			r.Header.Add(HeaderPath, v)
		}
		seen = nil
		call(h, r)
		if !slices.Equal(seen, []string{c.want}) {
			t.Errorf("%s with %s %q: the function saw %q, want [%q]", c.target, HeaderPath, c.sent, seen, c.want)
		}
	}
}

// checkErrorMasked fails t unless a function's error becomes a 500 whose
// body says "internal error" and nothing of the error, which goes to the
// log.
func checkErrorMasked(t testing.TB, a adapter) {
	t.Helper()
	var log bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&log, nil)))
	cause := errors.New("redis: dial tcp 10.20.30.40:6379: auth hunter2 refused")
	h := a(defaultMaxBody, func(handler.Request) (handler.Response, error) {
		return handler.Response{StatusCode: http.StatusOK, Body: []byte("partial")}, cause
	})
	resp := call(h, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
	body := bodyOf(resp)
	if resp.StatusCode != http.StatusInternalServerError || body != "internal error\n" {
		t.Errorf("a failing function: status %d, body %q, want 500 and %q", resp.StatusCode, body, "internal error\n")
	}
	if !strings.Contains(log.String(), "hunter2") {
		t.Errorf("the error is not logged: %q", log.String())
	}
}

// The template caps bodies at 1 MiB unless max_body_bytes says otherwise
// (docs/SECURITY.md, row 14).
func TestBodyCap(t *testing.T) {
	t.Setenv("max_body_bytes", "")
	if maxBody() != 1<<20 {
		t.Fatalf("default cap %d, want 1 MiB", maxBody())
	}
	checkBodyCap(t, templateAdapter, maxBody())
	t.Setenv("max_body_bytes", "4096")
	checkBodyCap(t, templateAdapter, maxBody())
	t.Setenv("max_body_bytes", "-1")
	if maxBody() != 1<<20 {
		t.Fatalf("cap %d with a negative max_body_bytes, want 1 MiB", maxBody())
	}
}

// The function learns the path from the template alone.
func TestPathFromURL(t *testing.T) {
	checkPathFromURL(t, templateAdapter)
}

// A function's error reaches the log, never the caller.
func TestErrorMasked(t *testing.T) {
	checkErrorMasked(t, templateAdapter)
}

// The function's answer is passed on: status (200 for none), headers, body.
func TestAnswerPassedOn(t *testing.T) {
	for _, status := range []int{0, http.StatusAccepted, http.StatusUnprocessableEntity} {
		h := serve(defaultMaxBody, func(req handler.Request) (handler.Response, error) {
			if req.Method != http.MethodPut || req.QueryString != "a=1" || string(req.Body) != "in" || req.Host != "gw.example" || req.Context() == nil {
				return handler.Response{}, fmt.Errorf("request not passed on: %+v", req)
			}
			return handler.Response{StatusCode: status, Header: http.Header{"X-Out": {"1"}}, Body: []byte("out")}, nil
		})
		r := httptest.NewRequest(http.MethodPut, "http://gw.example/x?a=1", strings.NewReader("in"))
		resp := call(h, r)
		want := max(status, http.StatusOK)
		if resp.StatusCode != want || resp.Header.Get("X-Out") != "1" || bodyOf(resp) != "out" {
			t.Errorf("answer with status %d: got %d %v, want %d with the header and body", status, resp.StatusCode, resp.Header, want)
		}
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// flawed is an adapter written for the test with the defects each check
// must catch, each switched on alone.
type flawed struct{ noCap, keepsPath, echoesError bool }

func (f flawed) serve(maxBody int64, handle func(handler.Request) (handler.Response, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := r.Body
		if !f.noCap {
			body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		if !f.keepsPath || r.Header.Get(HeaderPath) == "" {
			r.Header.Set(HeaderPath, pathOf(r))
		}
		resp, err := handle(handler.Request{Body: b, Header: r.Header, Method: r.Method})
		if err != nil {
			slog.Error("handler failed", "err", err)
			msg := "internal error"
			if f.echoesError {
				msg = err.Error()
			}
			http.Error(w, msg, http.StatusInternalServerError)
			return
		}
		w.WriteHeader(max(resp.StatusCode, http.StatusOK))
		_, _ = w.Write(resp.Body)
	})
}

// Each check catches its planted defect, and passes the same adapter
// without it.
func TestChecksCatchPlantedDefects(t *testing.T) {
	checks := map[string]func(testing.TB, adapter){
		"body cap":      func(t testing.TB, a adapter) { checkBodyCap(t, a, 4096) },
		"path from URL": checkPathFromURL,
		"error masked":  checkErrorMasked,
	}
	for name, c := range map[string]struct {
		flaw  flawed
		check string
	}{
		"cap removed":            {flawed{noCap: true}, "body cap"},
		"header not overwritten": {flawed{keepsPath: true}, "path from URL"},
		"500 body echoed":        {flawed{echoesError: true}, "error masked"},
	} {
		t.Run(name, func(t *testing.T) {
			checks[c.check](t, flawed{}.serve)
			r := &recorder{TB: t}
			checks[c.check](r, c.flaw.serve)
			if len(r.failures) == 0 {
				t.Fatalf("the planted defect went unnoticed by the %s check", c.check)
			}
			t.Log(r.failures[0])
		})
	}
}
