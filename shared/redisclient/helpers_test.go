package redisclient

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// pki is a throwaway certificate authority and a server certificate it
// signed for 127.0.0.1 and localhost, as PEM files in a temporary directory.
type pki struct {
	CAFile, CertFile, KeyFile string
	Roots                     *x509.CertPool
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lockbox test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)

	p := pki{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, "server.crt"),
		KeyFile:  filepath.Join(dir, "server.key"),
		Roots:    x509.NewCertPool(),
	}
	p.Roots.AddCert(ca)
	writePEM(t, p.CAFile, "CERTIFICATE", caDER)
	writePEM(t, p.CertFile, "CERTIFICATE", der)
	writePEM(t, p.KeyFile, "PRIVATE KEY", keyDER)
	return p
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600))
}

// testCAPEM is the PEM of a freshly generated CA certificate.
func testCAPEM(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(newPKI(t).CAFile)
	require.NoError(t, err)
	return b
}

// requireRedisServer returns the path of redis-server. Without it the test
// is skipped with how to install it, except in CI (CI set), where it fails.
func requireRedisServer(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err == nil {
		return path
	}
	msg := "redis-server is not on PATH (Debian/Ubuntu: apt-get install -y redis-server)"
	if os.Getenv("CI") != "" {
		t.Fatalf("%s: CI must run this test", msg)
	}
	t.Skip(msg)
	return ""
}

// startServer runs redis-server (args after the config file, e.g.
// --sentinel) with the configuration conf(port) on a loopback port in
// 29000–31999: below the kernel's ephemeral range and apart from
// scripts/with-redis.sh's. When the server does not come up (the port was
// taken), another port is tried. probe(addr) gives the options to reach it
// (TLS, password). The server is killed when t ends. It returns the address.
func startServer(t *testing.T, conf func(port int) string, probe func(addr string) *redis.Options, args ...string) string {
	t.Helper()
	bin := requireRedisServer(t)
	dir := t.TempDir()
	for attempt := range 5 {
		port := 29000 + mathrand.IntN(3000)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		confFile := filepath.Join(dir, fmt.Sprintf("redis-%d.conf", port))
		require.NoError(t, os.WriteFile(confFile, []byte(conf(port)), 0o600))
		if err := runServer(t, bin, dir, addr, probe(addr), append([]string{confFile}, args...)); err != nil {
			t.Logf("redis-server on %s did not come up (attempt %d): %v", addr, attempt+1, err)
			continue
		}
		return addr
	}
	t.Fatal("redis-server did not start on any of 5 ports")
	return ""
}

// runServer starts one redis-server and waits until the server answering
// on addr is the one it started. On failure the process is gone.
func runServer(t *testing.T, bin, dir, addr string, opt *redis.Options, args []string) error {
	t.Helper()
	logFile, err := os.Create(filepath.Join(dir, "redis-"+strings.ReplaceAll(addr, ":", "-")+".log"))
	require.NoError(t, err)
	defer logFile.Close()
	cmd := exec.Command(bin, args...) // #nosec G204 -- the test's own redis-server
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logFile, logFile
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	opt.MaxRetries, opt.DialerRetries = -1, 1
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited: %s", lastLines(logFile.Name()))
		case <-time.After(50 * time.Millisecond):
		}
		if pid, err := serverPID(rdb); err == nil && pid == cmd.Process.Pid {
			t.Cleanup(stop)
			return nil
		}
	}
	stop()
	return fmt.Errorf("no answer from the started redis-server in 10s: %s", lastLines(logFile.Name()))
}

// serverPID asks the server on rdb for its process id.
func serverPID(rdb *redis.Client) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, fmt.Errorf("no process_id in INFO server")
}

// lastLines is the end of a server's log, for failure messages.
func lastLines(path string) string {
	f, err := os.Open(path) // #nosec G304 -- the test's own log
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	for s := bufio.NewScanner(f); s.Scan(); {
		lines = append(lines, s.Text())
	}
	return strings.Join(lines[max(0, len(lines)-3):], " | ")
}
