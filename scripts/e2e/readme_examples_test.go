package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"lockbox.dev/scripts/internal/readme"
	"lockbox.dev/shared/intake/fixtures"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/mail"
	"lockbox.dev/shared/netguard"
	"lockbox.dev/shared/webhook"
)

// The README's examples of what Lockbox sends and takes are the real
// thing: the webhook deliveries verify and are what the code produces for
// that request, the mail's text is what the code renders, and each
// vendor's mapping is the fixture's source of that vendor.

// readmeExamplePortal is the portal of make run's default gateway, which
// the examples link to.
const readmeExamplePortal = readmeGateway + "/function/lockbox-portal"

// exampleBlocks returns the README's fenced blocks marked with
// <!-- name: args --> on the line before the fence, by the marker's
// arguments (readme.Marked).
func exampleBlocks(t *testing.T, name string) map[string]readme.Block {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "notifications.md"))
	require.NoError(t, err)
	blocks, err := readme.Marked(string(raw), name)
	require.NoError(t, err)
	return blocks
}

// The standard delivery shown is the one Lockbox sends for its request:
// the request is filed from the input below (its id and time, the one
// delivery's id and the attempt's time are the example's), the webhook
// package makes the standard payload and delivers it, signed with the
// secret the README names, to a receiver that records it; the README shows
// that request byte for byte. The Standard Webhooks library verifies the
// README's signature on its own. The Slack and Teams messages shown are
// what Lockbox sends for that same notification.
func TestREADMEWebhookExamples(t *testing.T) {
	blocks := exampleBlocks(t, "webhook-example")
	require.Len(t, blocks, 3, "the README shows the standard, slack and teams formats, each marked <!-- webhook-example: format -->")
	var std readme.Block
	var secret string
	for args, b := range blocks {
		if f := strings.Fields(args); len(f) == 2 && f[0] == lockbox.FormatStandard {
			std, secret = b, f[1]
		}
	}
	require.NotEmpty(t, secret, "<!-- webhook-example: standard <secret> -->")

	// The example's request, filed as make run's banner files it, and its
	// notification.
	filed := time.Date(2026, 11, 29, 15, 51, 52, 311e6, time.UTC)
	in := lockbox.CreateInput{TenantID: "contoso", ResourceType: "postgres", ResourceIDs: []string{"db-1"}, AccessLevel: "Read",
		Justification: "slow queries since the upgrade", SupportRequest: "INC-1001", SupportCaseURL: "https://support.provider.example/cases/INC-1001",
		Requester: lockbox.Requester{ID: "eng-7", DisplayName: "Support Engineer", Email: "eng7@provider.example"}}
	n := lockbox.Notification{Type: lockbox.NoteCreated, Time: filed,
		Request: lockbox.NewRequest(in, "1aba607e-24a2-417f-9419-022db8cf5ab3", filed, lockbox.DefaultLimits).
			FiledAs(lockbox.Principal{Kind: lockbox.KindService, Subject: lockbox.FiledViaWebhook})}

	// Lockbox delivers it; the receiver keeps the request as it came.
	var got bytes.Buffer
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(&got, "%s %s %s\n", r.Method, r.URL.RequestURI(), r.Proto)
		for _, k := range []string{"Content-Type", "User-Agent", webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
			fmt.Fprintf(&got, "%s: %s\n", textproto.CanonicalMIMEHeaderKey(k), r.Header.Get(k))
		}
		fmt.Fprintf(&got, "\n%s", body)
	}))
	t.Cleanup(receiver.Close)
	payload, err := webhook.Payload(lockbox.FormatStandard, n, readmeExamplePortal)
	require.NoError(t, err)
	require.NoError(t, webhook.NewSender(netguard.Guard{AllowPrivate: true}).Send(t.Context(), webhook.Delivery{
		URL: receiver.URL + "/standard", Secret: secret, ID: "msg_5f1cb139a8507914e9ee1083be982871",
		Time: time.Unix(1795967580, 0), Body: payload}))
	assert.Equal(t, got.String(), strings.TrimSpace(std.Text), "docs/notifications.md:%d: not the delivery Lockbox sends for the example's request", std.Line)

	// Any Standard Webhooks library verifies the README's delivery.
	r := bufio.NewReader(strings.NewReader(strings.TrimSpace(std.Text) + "\n"))
	_, err = r.ReadString('\n') // POST /path HTTP/1.1
	require.NoError(t, err)
	hdr, err := textproto.NewReader(r).ReadMIMEHeader()
	require.NoError(t, err)
	v, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, v.VerifyIgnoringTimestamp(bytes.TrimSpace(must(t, r)), http.Header(hdr)), "docs/notifications.md:%d: the standard delivery does not verify", std.Line)

	for _, format := range []string{lockbox.FormatSlack, lockbox.FormatTeams} {
		b, ok := blocks[format]
		require.True(t, ok, "no <!-- webhook-example: %s -->", format)
		own, err := webhook.Payload(format, n, readmeExamplePortal)
		require.NoError(t, err)
		assert.JSONEq(t, string(own), b.Text, "docs/notifications.md:%d: the %s message is not what Lockbox sends for the standard example's request", b.Line, format)
	}
}

// The approver's mail shown is what Lockbox renders for its request.
func TestREADMEMailExample(t *testing.T) {
	blocks := exampleBlocks(t, "mail-example")
	b, ok := blocks["created"]
	require.True(t, ok, "no <!-- mail-example: created --> block")
	head, text, ok := strings.Cut(b.Text, "\n\n")
	require.True(t, ok, "docs/notifications.md:%d: the headers, a blank line, the text", b.Line)
	filed := time.Date(2026, 11, 29, 15, 54, 50, 31e6, time.UTC)
	n := lockbox.Notification{Type: lockbox.NoteCreated, Time: filed, Actor: lockbox.Actor{Kind: lockbox.ActorEngineer, ID: "eng-7"},
		Request: lockbox.Request{RequestID: "7849185d-257b-4ee2-aa9f-38a78e3df6cf", TenantID: "contoso", ResourceType: "postgres",
			ResourceIDs: []string{"db-orders-1", "db-orders-2"}, AccessLevel: "Read",
			Justification:  "Queries on the orders database slowed down tenfold after the upgrade to 16.4; I need to read the query plans and pg_stat_statements.",
			SupportRequest: "INC-2042", SupportCaseURL: "https://support.provider.example/cases/INC-2042",
			Requester: lockbox.Requester{ID: "eng-7", DisplayName: "Sam Support", Email: "eng7@provider.example"},
			Status:    lockbox.StatusPending, CreatedDateTime: filed, ExpirationDateTime: filed.Add(96 * time.Hour), Duration: 8,
			RequiredApprovals: 1}}
	subject, own, _, err := mail.Render(n, readmeExamplePortal, `"Alice Approver" <alice@contoso.example>`)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("Subject: %s\nTo: \"Alice Approver\" <alice@contoso.example>", subject), head, "docs/notifications.md:%d", b.Line)
	assert.Equal(t, strings.TrimRight(own, "\n"), strings.TrimRight(text, "\n"), "docs/notifications.md:%d: not what Lockbox renders", b.Line)
}

// Each vendor's mapping shown under "Ticketing systems" is, as the README
// says, that source of shared/intake/fixtures/intake-config.yaml (the
// example make run starts with, whose deliveries the intake tests send):
// the same tenant and actions, whatever the comments. Every yaml block of
// the section is marked <!-- intake-mapping: <source> --> with the source
// it shows.
func TestREADMEIntakeMappings(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "ticketing.md"))
	require.NoError(t, err)
	section, first, err := readme.Section(string(raw), "# Ticketing systems")
	require.NoError(t, err, "docs/ticketing.md")
	blocks, err := readme.Blocks(section)
	require.NoError(t, err)
	marked, err := readme.Marked(section, "intake-mapping")
	require.NoError(t, err)
	at := func(b readme.Block) int { return first + b.Line - 1 }

	shown := map[int]bool{}
	for _, b := range marked {
		shown[b.Line] = true
	}
	for _, b := range blocks {
		if b.Lang == "yaml" && !shown[b.Line] {
			t.Errorf("docs/ticketing.md:%d: a yaml block without <!-- intake-mapping: <source> --> naming the fixture's source it shows", at(b))
		}
	}

	var fixture struct {
		Sources map[string]map[string]any
	}
	require.NoError(t, yaml.Unmarshal(fixtures.Config(), &fixture))
	for source, b := range marked {
		want, ok := fixture.Sources[source]
		if !assert.True(t, ok, "docs/ticketing.md:%d: the fixture has no source %q", at(b), source) {
			continue
		}
		// What differs between deployments, and which the README's steps
		// say where to put.
		delete(want, "kind")
		delete(want, "secrets")
		var got map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(b.Text), &got), "docs/ticketing.md:%d", at(b))
		assert.Equal(t, want, got, "docs/ticketing.md:%d: the %s mapping is not the fixture's", at(b), source)
	}
	assert.ElementsMatch(t, []string{"jira", "github", "zendesk"}, slices.Collect(maps.Keys(marked)), "the Jira, GitHub and Zendesk mappings")
}

func must(t *testing.T, r *bufio.Reader) []byte {
	t.Helper()
	var b bytes.Buffer
	_, err := b.ReadFrom(r)
	require.NoError(t, err)
	return b.Bytes()
}
