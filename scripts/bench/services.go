package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/redis/go-redis/v9"

	"lockbox.dev/scripts/internal/loopback"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/objectstore"
	"lockbox.dev/shared/redisstore"
)

// proc is a child process the benchmark started.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string
}

// start runs bin with env, its output appended to logPath. The child dies
// with the benchmark.
func start(name, bin string, args, env []string, logPath string) (*proc, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &proc{name: name, cmd: cmd}, nil
}

// stop ends the process with SIGTERM, then SIGKILL after 10 s.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// cpuSeconds is the user and system CPU time the process has used.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are plain.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return (utime + stime) / clockTicks, nil
}

// clockTicks is USER_HZ, which is 100 on every Linux architecture Go
// supports.
const clockTicks = 100

// memory returns the resident set size and its high-water mark in MB.
func memory(pid int) (rss, peak float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmRSS":
			rss = kb / 1024
		case "VmHWM":
			peak = kb / 1024
		}
	}
	return rss, peak, sc.Err()
}

// redisServer is the real redis-server the benchmark runs against:
// loopback, no persistence, nothing else using it.
type redisServer struct {
	*proc
	url      string // without the password, as functions are given it
	password string // requirepass, as in production
	version  string
	rdb      *redis.Client
}

// uncapped are usage caps no set-up reaches: the benchmark fills a tenant
// with far more live requests, and an engineer with far more grants, than
// a deployment's caps allow.
var uncapped = redisstore.Caps{MaxPendingPerTenant: 1 << 30, MaxPendingPerRequester: 1 << 30, MaxActiveGrantsPerRequester: 1 << 30}

// store is the set-up's store on this server: every fill, decision,
// settings change and clean-up the benchmark makes straight to Redis goes
// through one, with lim's lifetimes and no caps.
func (r *redisServer) store(lim lockbox.Limits) *redisstore.Store {
	s := redisstore.New(r.rdb, lim)
	s.Caps = uncapped
	return s
}

// clientURL is url with the password, for the load generator.
func (r *redisServer) clientURL() string {
	return strings.Replace(r.url, "redis://", "redis://:"+r.password+"@", 1)
}

func startRedis(dir string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not installed (Debian/Ubuntu: apt-get install -y redis-server): %w", err)
	}
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	password := hex.EncodeToString(pw)
	var last error
	for range 5 { // a port taken between choosing and binding: try another
		port, err := loopback.FreePort()
		if err != nil {
			return nil, err
		}
		p, err := start("redis-server", bin, []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
			"--dir", dir, "--save", "", "--appendonly", "no", "--requirepass", password}, os.Environ(), filepath.Join(dir, "redis.log"))
		if err != nil {
			return nil, err
		}
		r := &redisServer{proc: p, url: fmt.Sprintf("redis://127.0.0.1:%d/0", port), password: password}
		r.rdb = redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Password: password, PoolSize: 64})
		if last = waitFor(10*time.Second, func() error { return r.rdb.Ping(context.Background()).Err() }); last == nil {
			info, _ := r.rdb.Info(context.Background(), "server").Result()
			r.version = infoField(info, "redis_version")
			return r, nil
		}
		p.stop()
	}
	return nil, fmt.Errorf("redis-server did not start: %w", last)
}

// minio is the pinned MinIO the export is measured against.
type minio struct {
	*proc
	endpoint, user, pass, version string
}

func startMinIO(bin, dir string) (*minio, error) {
	port, err := loopback.FreePort()
	if err != nil {
		return nil, err
	}
	console, err := loopback.FreePort()
	if err != nil {
		return nil, err
	}
	pw := make([]byte, 12)
	_, _ = rand.Read(pw)
	m := &minio{endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), user: "lockbox-bench", pass: hex.EncodeToString(pw)}
	if out, err := exec.Command(bin, "--version").Output(); err == nil {
		m.version = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	env := append(os.Environ(), "MINIO_ROOT_USER="+m.user, "MINIO_ROOT_PASSWORD="+m.pass, "MINIO_BROWSER=off")
	m.proc, err = start("minio", bin, []string{"server", filepath.Join(dir, "minio"), "--address", fmt.Sprintf("127.0.0.1:%d", port),
		"--console-address", fmt.Sprintf("127.0.0.1:%d", console), "--quiet"}, env, filepath.Join(dir, "minio.log"))
	if err != nil {
		return nil, err
	}
	// Ready means an S3 call succeeds, not just the health endpoint.
	probe := objectstore.New(objectstore.Config{Endpoint: m.endpoint, Region: "us-east-1", PathStyle: true, AccessKey: m.user, SecretKey: m.pass})
	err = waitFor(60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := probe.Client().ListBuckets(ctx, &s3.ListBucketsInput{})
		return err
	})
	if err != nil {
		m.stop()
		return nil, fmt.Errorf("MinIO did not become ready: %w", err)
	}
	return m, nil
}

// waitFor retries f every 5 ms until it succeeds or timeout passes.
func waitFor(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// redisStats are the counters of INFO the benchmark reads.
type redisStats struct {
	reads    float64            // total_reads_processed: client round trips
	cpu      float64            // used_cpu_user + used_cpu_sys, seconds
	commands map[string]float64 // calls per command, from commandstats
}

func (r *redisServer) stats(ctx context.Context) (redisStats, error) {
	info, err := r.rdb.Info(ctx, "stats", "cpu", "commandstats").Result()
	if err != nil {
		return redisStats{}, err
	}
	return parseInfo(info), nil
}

func parseInfo(info string) redisStats {
	s := redisStats{commands: map[string]float64{}}
	num := func(v string) float64 { f, _ := strconv.ParseFloat(v, 64); return f }
	for line := range strings.Lines(info) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch {
		case k == "total_reads_processed":
			s.reads = num(v)
		case k == "used_cpu_user" || k == "used_cpu_sys":
			s.cpu += num(v)
		case strings.HasPrefix(k, "cmdstat_"):
			calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
			s.commands[strings.TrimPrefix(k, "cmdstat_")] = num(calls)
		}
	}
	return s
}

func infoField(info, name string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}
