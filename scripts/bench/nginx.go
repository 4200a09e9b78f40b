package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"lockbox.dev/scripts/internal/loopback"
)

// nginx's auth_request, measured: one nginx serves the same upstream (the
// no-op function) on two ports, plainly and behind auth_request to
// lockbox-check, and the load generator calls both as an engineer's client
// does, with the engineer's token, taking turns. What auth_request adds is
// the difference: the subrequest, lockbox-check and its Redis call.

// nginxRounds is how many turns each side takes per concurrency, so that
// whatever else the machine does meanwhile falls on both alike.
const nginxRounds = 4

// nginxResource is the resource the guarded server's configuration names.
const nginxResource = "vm-1"

// findNginx returns nginx's path, or why it cannot be measured here.
func findNginx() (bin, reason string) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return "", "nginx is not installed (Debian: apt-get install -y nginx-core)"
	}
	out, err := exec.Command(bin, "-V").CombinedOutput() // #nosec G204 -- the nginx found on PATH
	if err != nil {
		return "", fmt.Sprintf("nginx -V failed: %v", err)
	}
	if !bytes.Contains(out, []byte("--with-http_auth_request_module")) {
		return "", "this nginx is built without the auth_request module"
	}
	return bin, ""
}

// nginxVersion is the version nginx -v names, e.g. "1.22.1".
func nginxVersion(bin string) string {
	out, _ := exec.Command(bin, "-v").CombinedOutput() // #nosec G204 -- the nginx found on PATH
	_, v, _ := strings.Cut(strings.TrimSpace(string(out)), "version: nginx/")
	return v
}

// nginxConf is the configuration's variable part.
type nginxConf struct {
	Dir      string // the prefix (-p): pid, logs and temporary files
	Plain    string // the plain server's listen address
	Guarded  string // the guarded server's
	Upstream string // the no-op function's address
	Check    string // lockbox-check's address
	Tenant   string // what the guarded server's configuration names
	Resource string
}

// nginxTemplate is the configuration: both servers proxy to the upstream
// alike (HTTP/1.1, connections kept alive); the guarded one asks
// lockbox-check first, with the engineer's Authorization header passed
// through, the tenant and resource set by the configuration (replacing any
// copy the client sent), the method and URI recorded, and no body.
var nginxTemplate = template.Must(template.New("nginx.conf").Parse(`# make bench: one upstream, proxied plainly and behind auth_request.
daemon off;
worker_processes auto;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;

events {
	worker_connections 1024;
}

http {
	access_log off;
	client_body_temp_path {{.Dir}}/client_body;
	proxy_temp_path {{.Dir}}/proxy;
	fastcgi_temp_path {{.Dir}}/fastcgi;
	uwsgi_temp_path {{.Dir}}/uwsgi;
	scgi_temp_path {{.Dir}}/scgi;

	upstream app {
		server {{.Upstream}};
		keepalive 64;
	}
	upstream lockbox_check {
		server {{.Check}};
		keepalive 64;
	}

	server {
		listen {{.Plain}};
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}

	server {
		listen {{.Guarded}};
		location / {
			auth_request /_lockbox_check;
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
		location = /_lockbox_check {
			internal;
			proxy_pass http://lockbox_check;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_set_header X-Lockbox-Tenant "{{.Tenant}}";
			proxy_set_header X-Lockbox-Resource "{{.Resource}}";
			proxy_set_header X-Original-Method $request_method;
			proxy_set_header X-Original-URI $request_uri;
		}
	}
}
`))

// render writes the configuration.
func (c nginxConf) render() (string, error) {
	for _, v := range []string{c.Dir, c.Plain, c.Guarded, c.Upstream, c.Check, c.Tenant, c.Resource} {
		if v == "" || strings.ContainsAny(v, " \t\n\";{}$'\\") {
			return "", fmt.Errorf("nginx configuration: %q cannot be written into it", v)
		}
	}
	var b strings.Builder
	if err := nginxTemplate.Execute(&b, c); err != nil {
		return "", err
	}
	return b.String(), nil
}

// nginxProxy is a running nginx: its master process and what it serves.
type nginxProxy struct {
	*proc
	conf nginxConf
	// workers are the worker processes' ids, read once it serves.
	workers []int
}

// startNginx writes the configuration into conf.Dir and starts nginx in
// the foreground (daemon off) with that prefix, its error log there too,
// and waits until both servers answer.
func startNginx(bin string, conf nginxConf) (*nginxProxy, error) {
	text, err := conf.render()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(conf.Dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(conf.Dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return nil, err
	}
	p, err := start("nginx", bin, []string{"-c", path, "-p", conf.Dir, "-e", filepath.Join(conf.Dir, "error.log")},
		os.Environ(), filepath.Join(conf.Dir, "nginx.out"))
	if err != nil {
		return nil, err
	}
	n := &nginxProxy{proc: p, conf: conf}
	client := &http.Client{Timeout: 5 * time.Second}
	err = waitFor(10*time.Second, func() error {
		for _, addr := range []string{conf.Plain, conf.Guarded} {
			resp, err := client.Get("http://" + addr + "/")
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
		}
		return nil
	})
	if err == nil {
		n.workers, err = children(p.cmd.Process.Pid)
		if err == nil && len(n.workers) == 0 {
			err = errors.New("no worker processes")
		}
	}
	if err != nil {
		n.stop()
		log, _ := os.ReadFile(filepath.Join(conf.Dir, "error.log"))
		return nil, fmt.Errorf("nginx did not start: %w (%s)", err, snippet(log))
	}
	return n, nil
}

// stop ends nginx (SIGTERM: the master stops its workers), then any worker
// that outlived it, by its id.
func (n *nginxProxy) stop() {
	n.proc.stop()
	for _, pid := range n.workers {
		if syscall.Kill(pid, 0) == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// cpu is the CPU seconds nginx's master and workers have used.
func (n *nginxProxy) cpu() (float64, error) {
	total := 0.0
	for _, pid := range append([]int{n.cmd.Process.Pid}, n.workers...) {
		s, err := cpuSeconds(pid)
		if err != nil {
			return 0, err
		}
		total += s
	}
	return total, nil
}

// children are the ids of a process's children (/proc/<pid>/task/*/children).
func children(pid int) ([]int, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t) // #nosec G304 -- under /proc
		if err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(string(b)) {
			id, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t, err)
			}
			out = append(out, id)
		}
	}
	return out, nil
}

// proxyCaller is an engineer's call through nginx: GET of a path with
// their token, which must answer 200 (the no-op's answer).
func (g *generator) proxyCaller(j Job) (func(context.Context, Item) error, error) {
	tokens, err := g.bearers(j.Items)
	if err != nil {
		return nil, err
	}
	url := j.URL + checkURI
	return func(ctx context.Context, it Item) error {
		return g.call(ctx, http.MethodGet, url, http.Header{"Authorization": {tokens[it.Who]}}, nil, http.StatusOK)
	}, nil
}

// nginxStep measures nginx with and without auth_request at every
// concurrency, or records why it cannot (nginx absent, or without the
// module).
func (b *bench) nginxStep() error {
	bin, reason := findNginx()
	if reason != "" {
		b.log.Warn("nginx: skipped", "reason", reason)
		b.rep.Nginx.Skipped = reason
		return nil
	}
	grants, err := b.grantSetup("bench-nginx")
	if err != nil {
		return err
	}
	plain, err := loopback.FreePort()
	if err != nil {
		return err
	}
	guarded, err := loopback.FreePort()
	if err != nil {
		return err
	}
	conf := nginxConf{Dir: filepath.Join(b.dir, "nginx"), Plain: "127.0.0.1:" + strconv.Itoa(plain), Guarded: "127.0.0.1:" + strconv.Itoa(guarded),
		Upstream: b.fns[noop].addr, Check: b.fns["lockbox-check"].addr, Tenant: grants.Tenant, Resource: nginxResource}
	n, err := startNginx(bin, conf)
	if err != nil {
		return err
	}
	defer n.stop()
	b.rep.Nginx.Version, b.rep.Nginx.Workers = nginxVersion(bin), len(n.workers)
	if err := b.nginxGuards(conf); err != nil {
		return err
	}
	for _, c := range b.plan.Concurrency {
		runs, err := b.nginxRuns(n, grants, c)
		if err != nil {
			return fmt.Errorf("nginx at %d: %w", c, err)
		}
		for _, r := range runs {
			b.log.Info("run", "op", "nginx", "path", r.Path, "concurrency", c, "ops/s", fmt.Sprintf("%.0f", r.Throughput),
				"p99ms", fmt.Sprintf("%.2f", r.Latency.P99))
		}
		b.rep.Nginx.Runs = append(b.rep.Nginx.Runs, runs...)
	}
	return nil
}

// nginxGuards checks, before anything is measured, that the guarded server
// refuses a call without a token (401 from lockbox-check) and one whose
// engineer holds no grant (403), while the plain one lets both through.
func (b *bench) nginxGuards(conf nginxConf) error {
	client := &http.Client{Timeout: 10 * time.Second}
	status := func(addr, bearer string) (int, error) {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+checkURI, nil)
		if err != nil {
			return 0, err
		}
		if bearer != "" {
			req.Header.Set("Authorization", bearer)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	lg := &generator{tokens: map[string]string{}}
	var err error
	if lg.jwt, err = os.ReadFile(filepath.Join(b.secrets, "lockbox-jwt-secret")); err != nil {
		return err
	}
	stranger, err := lg.engineerBearer("eng-no-grant")
	if err != nil {
		return err
	}
	for _, c := range []struct {
		addr, bearer string
		want         int
	}{{conf.Guarded, "", http.StatusUnauthorized}, {conf.Guarded, stranger, http.StatusForbidden},
		{conf.Plain, "", http.StatusOK}, {conf.Plain, stranger, http.StatusOK}} {
		got, err := status(c.addr, c.bearer)
		if err != nil {
			return err
		}
		if got != c.want {
			return fmt.Errorf("nginx at %s answered %d, want %d (token: %v)", c.addr, got, c.want, c.bearer != "")
		}
	}
	return nil
}

// nginxRuns measures both servers at concurrency c: a warm-up of each, then
// nginxRounds turns each of a share of the calls, the guarded server's
// right after the plain one's, adding up each side's calls, time and CPU.
func (b *bench) nginxRuns(n *nginxProxy, grants grantSet, c int) ([]NginxRun, error) {
	sides := []struct {
		path, addr string
	}{{nginxPlain, n.conf.Plain}, {nginxGuarded, n.conf.Guarded}}
	job := func(addr string, items []Item, raw bool) Job {
		return Job{Op: "proxy", Path: "http", URL: "http://" + addr, Concurrency: c, Items: items, Raw: raw,
			RedisURL: b.redis.clientURL(), SecretsDir: b.secrets}
	}
	for _, s := range sides {
		if o, err := b.lg.do(job(s.addr, grants.checkItems(b.plan.Warmup, true), false)); err != nil || o.Errors > 0 {
			return nil, fmt.Errorf("warm-up of %s: %v %s", s.path, err, o.FirstError)
		}
	}
	per := max(b.plan.Ops/nginxRounds, 1)
	tallies := make([]nginxTally, len(sides))
	for range nginxRounds {
		for i, s := range sides {
			t, err := b.nginxTurn(n, job(s.addr, grants.checkItems(per, true), true))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.path, err)
			}
			tallies[i] = tallies[i].add(t)
		}
	}
	runs := make([]NginxRun, len(sides))
	for i, s := range sides {
		runs[i] = tallies[i].run(s.path, c)
	}
	return runs, nil
}

// nginxTally adds up the turns of one side: calls, seconds, CPU seconds of
// each process, Redis reads and every call's latency.
type nginxTally struct {
	ops                                          int
	seconds, nginx, check, upstream, client, rds float64
	reads                                        float64
	raw                                          []time.Duration
}

func (t nginxTally) add(u nginxTally) nginxTally {
	return nginxTally{ops: t.ops + u.ops, seconds: t.seconds + u.seconds, nginx: t.nginx + u.nginx, check: t.check + u.check,
		upstream: t.upstream + u.upstream, client: t.client + u.client, rds: t.rds + u.rds, reads: t.reads + u.reads,
		raw: append(t.raw, u.raw...)}
}

// run is the side's report.
func (t nginxTally) run(path string, c int) NginxRun {
	n := float64(max(t.ops, 1))
	per1k := 1000 / n
	return NginxRun{Path: path, Concurrency: c, Ops: t.ops, Seconds: t.seconds, Throughput: rate(t.ops, t.seconds),
		Latency: percentiles(t.raw), NginxCPUPer1k: t.nginx * per1k, CheckCPUPer1k: t.check * per1k,
		UpstreamCPUPer1k: t.upstream * per1k, ClientCPUPer1k: t.client * per1k, RedisCPUPer1k: t.rds * per1k, RoundTrips: t.reads / n}
}

// nginxTurn is one measured turn of one side: the load generator's calls
// and the CPU and Redis reads around them.
func (b *bench) nginxTurn(n *nginxProxy, j Job) (nginxTally, error) {
	ctx := context.Background()
	check, upstream := b.fns["lockbox-check"].cmd.Process.Pid, b.fns[noop].cmd.Process.Pid
	read := func() (t cpuTimes, ng, up float64, err error) {
		if t, err = b.cpu(ctx, check); err != nil {
			return t, 0, 0, err
		}
		if up, err = cpuSeconds(upstream); err != nil {
			return t, 0, 0, err
		}
		ng, err = n.cpu()
		return t, ng, up, err
	}
	t0, ng0, up0, err := read()
	if err != nil {
		return nginxTally{}, err
	}
	o, err := b.lg.do(j)
	if err != nil {
		return nginxTally{}, err
	}
	t1, ng1, up1, err := read()
	if err != nil {
		return nginxTally{}, err
	}
	if o.Errors > 0 {
		return nginxTally{}, fmt.Errorf("%d of %d calls failed, the first: %s", o.Errors, o.Ops, o.FirstError)
	}
	raw := make([]time.Duration, len(o.Raw))
	for i, us := range o.Raw {
		raw[i] = time.Duration(us) * time.Microsecond
	}
	return nginxTally{ops: o.Ops, seconds: o.Seconds, nginx: ng1 - ng0, check: t1.function - t0.function, upstream: up1 - up0,
		client: t1.client - t0.client, rds: t1.redis - t0.redis,
		// The second INFO's own read is in the count.
		reads: t1.stats.reads - t0.stats.reads - 1, raw: raw}, nil
}
