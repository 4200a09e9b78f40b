package localrun

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// With the gateway's address taken, make run says so at once, before it
// builds or starts anything (it used to build and start every function,
// then fail on the bind).
func TestGatewayAddressTakenFailsFirst(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	repo, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	env := map[string]string{"OPENFAAS_URL": "http://" + l.Addr().String()}
	o := Options{StackFile: filepath.Join(repo, "stack.yml"), DataDir: filepath.Join(dir, "data"), SecretsDir: filepath.Join(dir, "secrets"),
		BuildDir: filepath.Join(dir, "build"),
		Lookup: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
		Out: &out, Log: slog.New(slog.NewTextHandler(&out, nil))}
	start := time.Now()
	err = Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "gateway") || !strings.Contains(err.Error(), "OPENFAAS_URL") {
		t.Fatalf("got %v, want the gateway's address refused, naming OPENFAAS_URL", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s: it should fail before any work", d)
	}
	if _, err := os.Stat(filepath.Join(dir, "build")); !os.IsNotExist(err) {
		t.Errorf("the build folder exists (%v): it built before checking the address", err)
	}
	if strings.Contains(out.String(), "building") {
		t.Errorf("it announced a build: %s", out.String())
	}
}
