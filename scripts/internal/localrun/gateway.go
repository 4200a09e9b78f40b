package localrun

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"lockbox.dev/scripts/internal/stack"
)

// Namespace is the one namespace the local runtime serves.
const Namespace = "openfaas-fn"

// backend is a running function as the gateway sees it.
type backend struct {
	fn          stack.Function
	addr        string // 127.0.0.1:port of its process
	env         map[string]string
	proxy       *httputil.ReverseProxy
	invocations atomic.Int64
	ready       func() bool
	created     time.Time
}

// gateway serves the OpenFaaS gateway routes that faas-cli and the
// cron-connector use.
type gateway struct {
	backends map[string]*backend
	user     string
	password string
	log      *slog.Logger
	client   *http.Client
	mailbox  http.Handler // make run's mail catcher, at /mailbox/; nil when smtp_url is set
}

func newBackend(fn stack.Function, addr string, env map[string]string, ready func() bool) *backend {
	b := &backend{fn: fn, addr: addr, env: env, ready: ready, created: time.Now().UTC()}
	b.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", addr
			r.Out.Host = addr
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "function "+fn.Name+" is not reachable: "+err.Error(), http.StatusBadGateway)
		},
	}
	return b
}

func (g *gateway) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "OK") })
	mux.HandleFunc("/function/", g.invoke)
	mux.HandleFunc("/async-function/", g.invokeAsync)
	mux.Handle("GET /system/functions", g.auth(http.HandlerFunc(g.listFunctions)))
	mux.Handle("GET /system/function/{name}", g.auth(http.HandlerFunc(g.describeFunction)))
	mux.Handle("GET /system/namespaces", g.auth(http.HandlerFunc(g.namespaces)))
	mux.Handle("GET /system/info", g.auth(http.HandlerFunc(g.info)))
	if g.mailbox != nil {
		mux.Handle("/mailbox/", http.StripPrefix("/mailbox", g.mailbox))
	}
	return mux
}

// auth requires the gateway's basic-auth credentials, as a real gateway does
// for /system/*.
func (g *gateway) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(g.user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(g.password)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="Restricted"`)
			http.Error(w, "invalid credentials", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// resolve splits /function/<name>[.<namespace>][/path] into the backend and
// the path the function sees.
func (g *gateway) resolve(prefix, path string) (*backend, string, bool) {
	rest := strings.TrimPrefix(path, prefix)
	name, sub, _ := strings.Cut(rest, "/")
	if n, ns, ok := strings.Cut(name, "."); ok {
		if ns != Namespace {
			return nil, "", false
		}
		name = n
	}
	b, ok := g.backends[name]
	return b, "/" + sub, ok
}

func (g *gateway) invoke(w http.ResponseWriter, r *http.Request) {
	b, path, ok := g.resolve("/function/", r.URL.Path)
	if !ok {
		http.Error(w, "error finding function "+r.URL.Path+": not found", http.StatusNotFound)
		return
	}
	b.invocations.Add(1)
	callID := r.Header.Get("X-Call-Id")
	if callID == "" {
		callID = newCallID()
		r.Header.Set("X-Call-Id", callID)
	}
	start := time.Now()
	w.Header().Set("X-Call-Id", callID)
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = path, ""
	b.proxy.ServeHTTP(w, r2)
	g.log.Debug("invoked", "function", b.fn.Name, "path", path, "duration", time.Since(start))
}

// invokeAsync answers 202 at once and calls the function in the background,
// posting its answer to X-Callback-Url when one is given.
func (g *gateway) invokeAsync(w http.ResponseWriter, r *http.Request) {
	b, path, ok := g.resolve("/async-function/", r.URL.Path)
	if !ok {
		http.Error(w, "error finding function "+r.URL.Path+": not found", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 10<<20))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	callID := newCallID()
	header := r.Header.Clone()
	header.Set("X-Call-Id", callID)
	target := url.URL{Scheme: "http", Host: b.addr, Path: path, RawQuery: r.URL.RawQuery}
	method := r.Method
	callback := r.Header.Get("X-Callback-Url")
	b.invocations.Add(1)
	go g.callAsync(b.fn.Name, method, target.String(), header, body, callback, callID)
	w.Header().Set("X-Call-Id", callID)
	w.WriteHeader(http.StatusAccepted)
}

func (g *gateway) callAsync(name, method, target string, header http.Header, body []byte, callback, callID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	req.Header = header
	resp, err := g.client.Do(req)
	status, out := http.StatusBadGateway, []byte(nil)
	if err != nil {
		g.log.Error("async invocation failed", "function", name, "err", err)
	} else {
		out, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		status = resp.StatusCode
	}
	if callback == "" {
		return
	}
	cb, _ := http.NewRequestWithContext(ctx, http.MethodPost, callback, bytes.NewReader(out))
	if cb == nil {
		g.log.Error("bad X-Callback-Url", "function", name)
		return
	}
	cb.Header.Set("X-Call-Id", callID)
	cb.Header.Set("X-Function-Name", name)
	cb.Header.Set("X-Function-Status", http.StatusText(status))
	cb.Header.Set("X-Function-Status-Code", strconv.Itoa(status))
	if resp != nil {
		cb.Header.Set("Content-Type", resp.Header.Get("Content-Type"))
	}
	if r, err := g.client.Do(cb); err != nil {
		g.log.Error("callback failed", "function", name, "err", err)
	} else {
		_ = r.Body.Close()
	}
}

// functionStatus is the gateway's description of a function.
type functionStatus struct {
	Name              string            `json:"name"`
	Image             string            `json:"image"`
	Namespace         string            `json:"namespace"`
	EnvProcess        string            `json:"envProcess"`
	EnvVars           map[string]string `json:"envVars"`
	Labels            map[string]string `json:"labels"`
	Annotations       map[string]string `json:"annotations"`
	Secrets           []string          `json:"secrets"`
	InvocationCount   float64           `json:"invocationCount"`
	Replicas          uint64            `json:"replicas"`
	AvailableReplicas uint64            `json:"availableReplicas"`
	CreatedAt         time.Time         `json:"createdAt"`
}

func (b *backend) status() functionStatus {
	s := functionStatus{
		Name: b.fn.Name, Image: b.fn.Image, Namespace: Namespace, EnvProcess: "./handler",
		EnvVars: b.env, Labels: b.fn.Labels, Annotations: b.fn.Annotations, Secrets: b.fn.Secrets,
		InvocationCount: float64(b.invocations.Load()), Replicas: 1, CreatedAt: b.created,
	}
	if b.ready() {
		s.AvailableReplicas = 1
	}
	return s
}

func (g *gateway) listFunctions(w http.ResponseWriter, r *http.Request) {
	if ns := r.URL.Query().Get("namespace"); ns != "" && ns != Namespace {
		writeJSON(w, []functionStatus{})
		return
	}
	out := []functionStatus{}
	for _, name := range sortedKeys(g.backends) {
		out = append(out, g.backends[name].status())
	}
	writeJSON(w, out)
}

func (g *gateway) describeFunction(w http.ResponseWriter, r *http.Request) {
	b, ok := g.backends[r.PathValue("name")]
	if ns := r.URL.Query().Get("namespace"); !ok || (ns != "" && ns != Namespace) {
		http.Error(w, "function not found", http.StatusNotFound)
		return
	}
	writeJSON(w, b.status())
}

func (g *gateway) namespaces(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, []string{Namespace})
}

func (g *gateway) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{
		"provider": map[string]any{"provider": "lockbox-localrun", "orchestration": "process",
			"version": map[string]string{"release": "dev", "sha": ""}},
		"version": map[string]string{"release": "dev", "sha": "", "commit_message": ""},
		"arch":    runtime.GOARCH,
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v) // a client gone away is not our error
}

func newCallID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
