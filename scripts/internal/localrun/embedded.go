package localrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3bolt"
	bolt "go.etcd.io/bbolt"

	"lockbox.dev/scripts/internal/loopback"
	"lockbox.dev/shared/redisclient"
	"lockbox.dev/shared/redisclient/redisclienttest"
)

// lookRedisServer finds redis-server on PATH (tests replace it).
var lookRedisServer = func() (string, error) { return exec.LookPath("redis-server") }

// Service is a backing service the runtime provides or was pointed at.
type Service struct {
	URL  string // what the functions are given
	Desc string // for the banner
}

// startRedis starts the Redis the functions use when redis_url is not given:
// a redis-server child (data kept under dataDir) when one is on PATH, or an
// embedded miniredis whose TTLs follow the wall clock (state lost on exit).
// Either requires password.
// Everything it starts runs under track, which the caller waits for.
func startRedis(ctx context.Context, dataDir, password string, track func(*process, func()), log *slog.Logger) (Service, error) {
	port, err := loopback.FreePort()
	if err != nil {
		return Service{}, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	url := "redis://" + addr + "/0"
	if path, err := lookRedisServer(); err == nil {
		dir := filepath.Join(dataDir, "redis")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return Service{}, err
		}
		// The password goes in a config file, not on the command line.
		conf := filepath.Join(dir, "redis.conf")
		body := fmt.Sprintf("bind 127.0.0.1\nport %d\ndir %s\nappendonly yes\nsave \"\"\nrequirepass %s\n", port, dir, password)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return Service{}, err
		}
		p := &process{name: "redis", path: path, args: []string{conf}, dir: dir, out: os.Stdout, log: log,
			minBackoff: time.Second, maxBackoff: 30 * time.Second}
		track(p, func() { p.run(ctx) })
		if err := waitListening(ctx, addr, 10*time.Second); err != nil {
			return Service{}, fmt.Errorf("redis-server: %w", err)
		}
		version, _ := exec.Command(path, "--version").Output()
		return Service{URL: url, Desc: fmt.Sprintf("redis-server %s on %s, data in %s (kept across restarts)",
			versionOf(string(version)), addr, relPath(dir))}, nil
	}
	m := miniredis.NewMiniRedis()
	m.RequireAuth(password)
	m.ClockTTL(true) // TTLs expire with real time, as on a real server
	if err := m.StartAddr(addr); err != nil {
		return Service{}, err
	}
	// miniredis never evicts a key; it answers the functions' check of
	// maxmemory-policy with that.
	if err := redisclienttest.RegisterConfig(m, redisclient.NoEviction); err != nil {
		return Service{}, err
	}
	track(nil, func() { <-ctx.Done(); m.Close() })
	return Service{URL: url, Desc: "embedded miniredis on " + addr +
		" (no redis-server on PATH): in memory, its state is lost when make run stops"}, nil
}

func versionOf(s string) string {
	for _, f := range strings.Fields(s) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return "?"
}

// startS3 serves an embedded S3-compatible endpoint (gofakes3, persisted in
// a bolt file under dataDir) with bucket created. It stops under track.
func startS3(ctx context.Context, dataDir, bucket string, track func(*process, func()), log *slog.Logger) (Service, error) {
	dir := filepath.Join(dataDir, "s3")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Service{}, err
	}
	db := filepath.Join(dir, "s3.db")
	// A lock on the file keeps a second make run from sharing it.
	bdb, err := bolt.Open(db, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return Service{}, fmt.Errorf("embedded s3: %s: %w (is another make run using it?)", db, err)
	}
	backend := s3bolt.New(bdb)
	if err := backend.CreateBucket(bucket); err != nil && !errors.Is(err, gofakes3.ErrBucketAlreadyExists) &&
		!gofakes3.HasErrorCode(err, gofakes3.ErrBucketAlreadyExists) {
		return Service{}, fmt.Errorf("embedded s3: create bucket %s: %w", bucket, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Service{}, err
	}
	srv := &http.Server{Handler: gofakes3.New(backend, gofakes3.WithAutoBucket(false)).Server(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	track(nil, func() {
		<-ctx.Done()
		_ = srv.Close()
		_ = bdb.Close()
	})
	url := "http://" + l.Addr().String()
	return Service{URL: url, Desc: fmt.Sprintf("embedded S3 (gofakes3) at %s, bucket %s, data in %s", url, bucket, relPath(db))}, nil
}

func relPath(p string) string {
	wd, _ := os.Getwd()
	if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
