package main

import (
	"bytes"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"path/filepath"
	"strconv"
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
	fresh := fs.Bool("new", false, "a new ticket: the delivery files a new request (its ticket is printed)")
	ticket := fs.String("ticket", "", "the ticket the delivery names, instead of the fixture's (e.g. one -new printed)")
	_ = fs.Parse(flagsFirst(args)) // ExitOnError: it exits on a bad flag
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return fmt.Errorf("send-fixture takes SOURCE and optionally the event: created (the default), updated or resolved")
	}
	if *fresh && *ticket != "" {
		return fmt.Errorf("send-fixture takes -new or -ticket, not both")
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
	if *fresh {
		*ticket = newTicket(string(src.Kind))
	}
	if *ticket != "" {
		if body, err = fixtures.WithTicket(string(src.Kind), body, *ticket); err != nil {
			return err
		}
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
	if *fresh {
		fmt.Fprintf(out, "ticket %s: resolve it with bin/lockboxctl send-fixture %s resolved -ticket %s\n", *ticket, name, *ticket)
	}
	return nil
}

// newTicket is a ticket of vendor kind that no fixture names: a whole
// number for GitHub and Zendesk, a key or number in the vendor's own form
// otherwise.
func newTicket(kind string) string {
	r, _ := rand.Int(rand.Reader, big.NewInt(90000)) // crypto/rand never fails (Go 1.24+)
	n := 10000 + int(r.Int64())
	switch kind {
	case "jira":
		return "SUP-" + strconv.Itoa(n)
	case "servicenow":
		return "INC00" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// flagsFirst moves the flags of args before its other arguments, so that
// "send-fixture github -new" reads as "send-fixture -new github".
func flagsFirst(args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-"):
			flags = append(flags, a)
			if !strings.Contains(a, "=") && (a == "-ticket" || a == "--ticket" || a == "-secrets" || a == "--secrets" ||
				a == "-gateway" || a == "--gateway") && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			rest = append(rest, a)
		}
	}
	return append(flags, rest...)
}
