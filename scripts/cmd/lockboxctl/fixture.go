package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"lockbox.dev/shared/config"
	"lockbox.dev/shared/intake"
	"lockbox.dev/shared/intake/fixtures"
)

// sendFixture posts the example delivery of a source's vendor for an event
// to lockbox-intake, as the vendor would: the fixture <kind>-<event>,
// signed with the source's first secret of the lockbox-intake-config in
// the secrets folder, at gateway (OPENFAAS_URL, or make run's default). It
// prints the status and the body of the answer; an answer of 4xx or 5xx is
// an error.
func sendFixture(args []string, openfaasURL string, out io.Writer) error {
	fs := flag.NewFlagSet("send-fixture", flag.ExitOnError)
	dir := fs.String("secrets", ".secrets", "folder of secret files")
	if openfaasURL == "" {
		openfaasURL = "http://127.0.0.1:8080"
	}
	gateway := fs.String("gateway", openfaasURL, "the gateway (OPENFAAS_URL)")
	_ = fs.Parse(args) // ExitOnError: it exits on a bad flag
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return fmt.Errorf("send-fixture takes SOURCE and optionally the event: created (the default), updated or resolved")
	}
	name, event := fs.Arg(0), "created"
	if fs.NArg() == 2 {
		event = fs.Arg(1)
	}
	doc, err := config.ReadSecret(filepath.Clean(*dir), config.SecretIntake)
	if err != nil {
		return err
	}
	cfg, err := intake.Load(doc)
	if err != nil {
		return fmt.Errorf("secret %s: %w", config.SecretIntake, err)
	}
	src, err := cfg.Source(name)
	if err != nil {
		return fmt.Errorf("%w (the sources are %s)", err, strings.Join(cfg.Names(), ", "))
	}
	body, err := fixtures.Body(string(src.Kind) + "-" + event)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(*gateway, "/")+"/function/lockbox-intake/"+name, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = src.Sign(body, time.Now())
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("send the fixture: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	fmt.Fprintf(out, "%s %s-%s → %s\n%s\n", name, src.Kind, event, resp.Status, bytes.TrimSpace(answer))
	if resp.StatusCode >= 400 {
		return fmt.Errorf("lockbox-intake answered %s", resp.Status)
	}
	return nil
}
