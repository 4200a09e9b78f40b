package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/scripts/internal/readme"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
)

// Break-glass from filing to dispute, on a stack started with the policy
// of docs/controls.md (its yaml block, written as the secret
// lockbox-provider-policy) and a provider-wide webhook: the document's
// block runs in a shell — an emergency filing held for the provider's
// approvers, two of them letting it in, the customer's approver disputing
// it — and then the mails (to the approver and the escalation contact, at
// once) and the webhook deliveries (lockbox.emergency.requested, .granted,
// then .disputed, signed) are caught. A tenant whose settings refuse break-glass
// gets 403. In chromium, the approver finds a second emergency access,
// with the longest realistic values, at the top of the landing page,
// reads its page and acknowledges it; screenshots go to
// LOCKBOX_PORTAL_SCREENSHOTS (make screenshots: docs/portal/).
func TestBreakGlassOnTheStack(t *testing.T) {
	integrationOnly(t, "a stack with a policy, a shell, a webhook receiver and chromium")
	repo := repoRoot(t)
	policy, script := policyAndBlock(t, repo, "controls.md", "emergency:", "TestBreakGlassOnTheStack")

	var secretPath string
	receiver, hooks := signedReceiver(t, &secretPath)

	s, b := startWithBrowser(t, stackConfig{env: map[string]string{"notify_webhook_url": receiver.URL + "/provider"},
		secrets: map[string]string{config.SecretProviderPolicy: policy}}, "/function/lockbox-portal", "LOCKBOX_PORTAL_SCREENSHOTS")
	secretPath = filepath.Join(s.opts.SecretsDir, "notify-webhook-secret")
	admin := s.as(t, "contoso", "ada", lockbox.RoleAdmin)
	admin["If-Match"] = `"0"`
	status, body := s.call(t, http.MethodPut, "/function/lockbox-settings",
		`{"enabled":true,"approvers":[{"id":"alice","email":"alice@contoso.example","displayName":"Alice Approver"}],`+
			`"escalation":{"after":"24h","contacts":[{"id":"oncall","email":"oncall@contoso.example"}]},`+
			`"reminders":[],"requiredApprovals":1,"rules":[],"webhooks":[]}`, admin)
	require.Equal(t, http.StatusOK, status, string(body))

	out, err := runDocBlock(t, s, repo, script)
	require.NoError(t, err, "docs/controls.md:%d\n--- the block ---\n%s\n--- its output ---\n%s", script.Line, script.Text, out)

	// Told at once: the approver and the escalation contact by mail, the
	// provider's webhook; then the dispute.
	for _, to := range []string{"alice@contoso.example", "oncall@contoso.example"} {
		m := waitForMail(t, s, "emergency access granted", to)
		for _, want := range []string{"INC-9001", "SEV1-2231", "region outage; the customer bridge is unreachable", "lead-1", "lead-2",
			"Review the emergency access"} {
			assert.Contains(t, m.Text, want, "mail to %s", to)
		}
	}
	seen := map[string]map[string]any{}
	waitForHook(t, hooks, seen, "lockbox.emergency.requested") // the provider's approvers paged at the filing
	granted := waitForHook(t, hooks, seen, "lockbox.emergency.granted")
	disputed := waitForHook(t, hooks, seen, "lockbox.emergency.disputed")
	data, _ := disputed["data"].(map[string]any)
	emergency, _ := data["emergency"].(map[string]any)
	review, _ := emergency["review"].(map[string]any)
	assert.Equal(t, "no outage was declared to us", review["reason"], "the dispute's reason reaches the provider: %v", disputed)
	assert.Equal(t, "alice", review["by"])
	assert.Equal(t, granted["data"].(map[string]any)["requestId"], data["requestId"])
	m := waitForMail(t, s, "emergency access disputed", "alice@contoso.example")
	assert.Contains(t, m.Text, "no outage was declared to us")

	// A tenant that refuses break-glass.
	fab := s.as(t, "fabrikam", "ada", lockbox.RoleAdmin)
	fab["If-Match"] = `"0"`
	status, body = s.call(t, http.MethodPut, "/function/lockbox-settings",
		`{"enabled":true,"approvers":[],"reminders":[],"requiredApprovals":1,"rules":[],"webhooks":[],"breakGlass":"deny"}`, fab)
	require.Equal(t, http.StatusOK, status, string(body))
	mfa := func(c *auth.Claims) { c.AMR = []string{"pwd", "mfa"} }
	eng := s.mintWith(t, "provider", "eng-7", mfa, lockbox.RoleRequester)
	in := emergencyFiling("fabrikam", "INC-9100", "vm-1")
	doc, _ := json.Marshal(in)
	status, body = s.call(t, http.MethodPost, "/function/lockbox-create", string(doc),
		map[string]string{"Authorization": "Bearer " + eng, "Content-Type": "application/json"})
	assert.Equal(t, http.StatusForbidden, status)
	assert.Contains(t, string(body), "BreakGlassDenied")

	// The portal: emergency access with the longest realistic values.
	const rg = "/subscriptions/9b0d1c6e-2f3a-4c5d-8e9f-0a1b2c3d4e5f/resourceGroups/prod-orders-westeurope/providers/Microsoft.Compute/virtualMachines/"
	in = emergencyFiling("contoso", "INC-9002", rg+"vm-orders-db-primary-01", rg+"vm-orders-db-replica-02")
	doc, _ = json.Marshal(in)
	status, body = s.call(t, http.MethodPost, "/function/lockbox-create", string(doc),
		map[string]string{"Authorization": "Bearer " + eng, "Content-Type": "application/json"})
	require.Equal(t, http.StatusCreated, status, string(body))
	var r lockbox.Request
	require.NoError(t, json.Unmarshal(body, &r))
	for _, lead := range []string{"lead-1@provider.example", "lead-2@provider.example"} {
		status, body = s.call(t, http.MethodPost, "/function/lockbox-approve",
			`{"requestId":"`+r.RequestID+`","tenantId":"contoso","reason":"SEV1 bridge: the orders database must be repaired now"}`,
			s.as(t, "provider", lead, lockbox.RoleProviderApprover))
		require.Equal(t, http.StatusOK, status, string(body))
	}
	b.signIn(s.token(t, "contoso", "alice", lockbox.RoleApprover))
	b.open("/")
	top := b.text("section.emergency")
	for _, want := range []string{"Emergency access to review", "SEV1-2231 orders primary is corrupting writes", "Sam Support",
		"vm-orders-db-primary-01"} {
		assert.Contains(t, top, want)
	}
	b.shot("emergency-home", true)
	b.open("/requests/" + r.RequestID)
	section := b.text("section.emergency")
	for _, want := range []string{"Emergency access (break-glass)", "lead-1@provider.example", "lead-2@provider.example", "Review due"} {
		assert.Contains(t, section, want)
	}
	b.shot("emergency-request", true)
	b.do(chromedp.SetValue(chromedp.ID("review-reason"), "We asked for this on the SEV1 bridge at 02:10 UTC."),
		chromedp.Click(chromedp.CSS(`section.emergency button[value="acknowledge"]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	assert.Contains(t, b.text(".flash"), "You acknowledged this emergency access.")
	assert.Contains(t, b.text("section.emergency"), "Acknowledged by alice")
	assert.Zero(t, b.count(`section.emergency button[value="acknowledge"]`), "reviewed once")
}

// policyAndBlock reads docs/<doc>: its first yaml block whose text holds
// inPolicy (the provider policy it deploys), and the shell block marked
// "<test> runs this block".
func policyAndBlock(t *testing.T, repo, doc, inPolicy, test string) (string, *readme.Block) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repo, "docs", doc))
	require.NoError(t, err)
	blocks, err := readme.Blocks(string(raw))
	require.NoError(t, err)
	var policy string
	var script *readme.Block
	for i, b := range blocks {
		switch {
		case b.Lang == "yaml" && policy == "" && strings.Contains(b.Text, inPolicy):
			policy = b.Text
		case strings.Contains(b.Skip, test+" runs this block"):
			script = &blocks[i]
		}
	}
	require.NotEmpty(t, policy, "docs/%s has no policy block", doc)
	require.NotNil(t, script, "docs/%s has no block marked for %s", doc, test)
	return policy, script
}

// emergencyFiling is eng-7's emergency filing in tenant for resources.
func emergencyFiling(tenant, ticket string, resources ...string) lockbox.CreateInput {
	return lockbox.CreateInput{TenantID: tenant, ResourceType: "Microsoft.Compute/virtualMachines", ResourceIDs: resources,
		AccessLevel: "Write", Duration: new(2), SupportRequest: ticket, SupportCaseURL: "https://support.provider.example/cases/" + ticket,
		Justification: "The orders primary is corrupting writes after the storage failover; I must stop replication and repair the WAL.",
		Requester:     lockbox.Requester{ID: "eng-7", DisplayName: "Sam Support", Email: "eng7@provider.example"},
		Emergency: &lockbox.EmergencyInput{Incident: "SEV1-2231 orders primary is corrupting writes",
			Reason: "Region outage; the customer's approvers are not reachable on their bridge or by phone."}}
}

// waitForHook waits for a webhook delivery of the given type, failing on
// one the receiver refused; seen keeps, by type, those that came first.
func waitForHook(t *testing.T, hooks <-chan string, seen map[string]map[string]any, typ string) map[string]any {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if m, ok := seen[typ]; ok {
			return m
		}
		select {
		case body := <-hooks:
			require.False(t, strings.HasPrefix(body, "refused: "), "a delivery failed its signature check: %s", body)
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(body), &m))
			seen[fmt.Sprint(m["type"])] = m
		case <-deadline:
			t.Fatalf("no webhook delivery of type %s", typ)
			return nil
		}
	}
}

// runDocBlock runs a document's shell block against s, in a shell set up
// as the README's (bin/lockboxctl, .secrets, .data), after the README's
// prelude; it answers the block's output.
func runDocBlock(t *testing.T, s *stackRun, repo string, block *readme.Block) (string, error) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bin")
	require.NoError(t, os.Mkdir(bin, 0o700))
	require.NoError(t, os.Symlink(lockboxctl(t, repo), filepath.Join(bin, "lockboxctl")))
	work := readmeWorkDir(t, repo, map[string]string{"bin": bin, ".secrets": s.opts.SecretsDir, ".data": s.opts.DataDir})
	sh, err := startShell(work, readmeEnv(s.Gateway, t.TempDir(), readmeVars(t, repo)), t.TempDir())
	require.NoError(t, err)
	t.Cleanup(sh.close)
	_, err = sh.run(readmePrelude, time.Minute)
	require.NoError(t, err)
	return sh.run(strings.ReplaceAll(block.Text, readmeGateway, s.Gateway), readmeBlockTimeout)
}
