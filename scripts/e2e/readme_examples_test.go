package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/internal/readme"
	"lockbox.dev/shared/intake"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/mail"
	"lockbox.dev/shared/webhook"
)

// The README's examples of what Lockbox sends and takes are the real
// thing: the webhook deliveries verify and are what the code produces for
// that request, the mail's text is what the code renders, and each
// vendor's mapping loads.

// readmeExamplePortal is the portal of make run's default gateway, which
// the examples link to.
const readmeExamplePortal = readmeGateway + "/function/lockbox-portal"

// exampleBlocks returns the README's fenced blocks marked with
// <!-- name: args --> on the line before the fence, by the marker's
// arguments, the blocks' common indentation removed.
func exampleBlocks(t *testing.T, name string) map[string]readme.Block {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	require.NoError(t, err)
	blocks, err := readme.Marked(string(raw), name)
	require.NoError(t, err)
	return blocks
}

// The standard delivery shown verifies with the Standard Webhooks library
// under the secret the README names, and its body is a standard message of
// a request exactly as the API returns one; the Slack and Teams messages
// shown are what Lockbox sends for that same notification.
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
	r := bufio.NewReader(strings.NewReader(strings.TrimSpace(std.Text) + "\n"))
	_, err := r.ReadString('\n') // POST /path HTTP/1.1
	require.NoError(t, err)
	hdr, err := textproto.NewReader(r).ReadMIMEHeader()
	require.NoError(t, err)
	body := bytes.TrimSpace(must(t, r))
	v, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, v.VerifyIgnoringTimestamp(body, http.Header(hdr)), "README.md:%d: the standard delivery does not verify", std.Line)

	var msg struct {
		Type      string
		Timestamp time.Time
		Data      lockbox.Request
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&msg), "README.md:%d", std.Line)
	assert.Equal(t, webhook.TypePrefix+string(lockbox.NoteCreated), msg.Type)
	n := lockbox.Notification{Type: lockbox.NoteCreated, Time: msg.Timestamp, Request: msg.Data}
	own, err := webhook.Payload(lockbox.FormatStandard, n, readmeExamplePortal)
	require.NoError(t, err)
	assert.JSONEq(t, string(body), string(own), "README.md:%d: not what Lockbox sends", std.Line)

	for _, format := range []string{lockbox.FormatSlack, lockbox.FormatTeams} {
		b, ok := blocks[format]
		require.True(t, ok, "no <!-- webhook-example: %s -->", format)
		own, err := webhook.Payload(format, n, readmeExamplePortal)
		require.NoError(t, err)
		assert.JSONEq(t, string(own), b.Text, "README.md:%d: the %s message is not what Lockbox sends for the standard example's request", b.Line, format)
	}
}

// The approver's mail shown is what Lockbox renders for its request.
func TestREADMEMailExample(t *testing.T) {
	blocks := exampleBlocks(t, "mail-example")
	b, ok := blocks["created"]
	require.True(t, ok, "no <!-- mail-example: created --> block")
	head, text, ok := strings.Cut(b.Text, "\n\n")
	require.True(t, ok, "README.md:%d: the headers, a blank line, the text", b.Line)
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
	assert.Equal(t, fmt.Sprintf("Subject: %s\nTo: \"Alice Approver\" <alice@contoso.example>", subject), head, "README.md:%d", b.Line)
	assert.Equal(t, strings.TrimRight(own, "\n"), strings.TrimRight(text, "\n"), "README.md:%d: not what Lockbox renders", b.Line)
}

// Each vendor's mapping shown under "Ticketing systems" is a valid source
// of lockbox-intake-config.
func TestREADMEIntakeMappings(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	require.NoError(t, err)
	text := string(raw)
	start := strings.Index(text, "\n## Ticketing systems\n")
	require.GreaterOrEqual(t, start, 0, "README.md has no Ticketing systems section")
	end := strings.Index(text[start+1:], "\n## ")
	section := text[start : start+1+end]
	blocks, err := readme.Blocks(section)
	require.NoError(t, err)
	kinds := map[string]string{"Jira Cloud": "jira", "GitHub": "github", "Zendesk": "zendesk", "ServiceNow": "servicenow"}
	lines := strings.Split(section, "\n")
	loaded := 0
	for _, b := range blocks {
		if b.Lang != "yaml" {
			continue
		}
		kind := ""
		for i := b.Line - 1; i >= 0 && kind == ""; i-- {
			if h, ok := strings.CutPrefix(lines[i], "### "); ok {
				kind = kinds[h]
			}
		}
		require.NotEmpty(t, kind, "a yaml block under no vendor's heading")
		doc := "sources:\n  example:\n    kind: " + kind + "\n    secrets: [\"0123456789abcdef0123\"]\n"
		for _, l := range strings.Split(b.Text, "\n") {
			doc += "    " + l + "\n"
		}
		_, err := intake.Load([]byte(doc))
		assert.NoError(t, err, "the %s mapping in README.md's Ticketing systems section", kind)
		loaded++
	}
	assert.Equal(t, 3, loaded, "the Jira, GitHub and Zendesk mappings")
}

func must(t *testing.T, r *bufio.Reader) []byte {
	t.Helper()
	var b bytes.Buffer
	_, err := b.ReadFrom(r)
	require.NoError(t, err)
	return b.Bytes()
}
