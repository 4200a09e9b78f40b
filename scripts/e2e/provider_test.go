package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/lockbox"
)

// The provider policy of docs/provider.md on a stack started with it (the
// secret lockbox-provider-policy written as a user writes it): the
// document's policy block is the secret, and its block marked for this test
// runs in a shell as the README's do — a filing without MFA refused, one
// with it held for internal review, a lead's approval releasing it — after
// which alice's mail says what the provider checked. Then, in chromium, a
// support lead approves a request from the provider console's review queue,
// the customer's approver sees "Checked by the provider" on its page, and
// the engineer's console shows the live grant with its ssh-cert command;
// screenshots go to LOCKBOX_PORTAL_SCREENSHOTS (make screenshots:
// docs/portal/).
func TestProviderPolicyOnTheStack(t *testing.T) {
	integrationOnly(t, "about 5 s: a stack with the policy, a shell and chromium")
	repo := repoRoot(t)
	policy, script := policyAndBlock(t, repo, "provider.md", "", "TestProviderPolicyOnTheStack")

	s, b := startWithBrowser(t, stackConfig{secrets: map[string]string{config.SecretProviderPolicy: policy}},
		"/function/lockbox-portal", "LOCKBOX_PORTAL_SCREENSHOTS")
	admin := s.as(t, "contoso", "ada", lockbox.RoleAdmin)
	admin["If-Match"] = `"0"`
	status, body := s.call(t, http.MethodPut, "/function/lockbox-settings",
		`{"enabled":true,"approvers":[{"id":"alice","email":"alice@contoso.example","displayName":"Alice Approver"}],"reminders":[],"requiredApprovals":1,"rules":[],"webhooks":[]}`,
		admin)
	require.Equal(t, http.StatusOK, status, string(body))

	// The document's block, in a shell like the README's.
	out, err := runDocBlock(t, s, repo, script)
	require.NoError(t, err, "docs/provider.md:%d\n--- the block ---\n%s\n--- its output ---\n%s", script.Line, script.Text, out)

	mail := waitForMail(t, s, "INC-7007", "alice@contoso.example")
	for _, want := range []string{"Checked by the provider:", "Multi-factor authentication: yes", "Isolated identity: yes",
		"Internal approval: lead-1 (", "Policy rule: vm-write"} {
		assert.Contains(t, mail.Text, want)
		assert.Contains(t, mail.HTML, want)
	}

	// A request with the longest realistic values, held for review.
	const rg = "/subscriptions/9b0d1c6e-2f3a-4c5d-8e9f-0a1b2c3d4e5f/resourceGroups/prod-orders-westeurope/providers/Microsoft.Compute/virtualMachines/"
	in := lockbox.CreateInput{TenantID: "contoso", ResourceType: "Microsoft.Compute/virtualMachines",
		ResourceIDs: []string{rg + "vm-orders-db-primary-01", rg + "vm-orders-db-replica-02"}, AccessLevel: "Write", Duration: new(3),
		SupportRequest: "INC-2081", SupportCaseURL: "https://support.provider.example/cases/INC-2081",
		Justification: "The primary's data disk filled up during the 02:00 UTC maintenance window; I need to rotate the WAL archive and resize the disk before orders stop.",
		Requester:     lockbox.Requester{ID: "eng-7", DisplayName: "Sam Support", Email: "eng7@provider.example"}}
	engTok := s.mintWith(t, "provider", "eng-7", func(c *auth.Claims) { c.AMR, c.Isolated = []string{"pwd", "mfa"}, true },
		lockbox.RoleRequester)
	doc, err := json.Marshal(in)
	require.NoError(t, err)
	status, body = s.call(t, http.MethodPost, "/function/lockbox-create", string(doc),
		map[string]string{"Authorization": "Bearer " + engTok, "Content-Type": "application/json"})
	require.Equal(t, http.StatusCreated, status, string(body))
	var r lockbox.Request
	require.NoError(t, json.Unmarshal(body, &r))
	require.Equal(t, lockbox.StatusInternalReview, r.Status)
	status, _ = s.call(t, http.MethodGet, "/function/lockbox-list?requestId="+r.RequestID, "", s.as(t, "contoso", "alice", lockbox.RoleApprover))
	assert.Equal(t, http.StatusNotFound, status, "the customer does not see it")

	// The support lead's review queue.
	b.signIn(s.token(t, "provider", "lead-2@provider.example", lockbox.RoleProviderApprover))
	b.open("/provider?tenant=contoso")
	queue := b.text("section[aria-labelledby=queue]")
	for _, want := range []string{"INC-2081", "Sam Support", "vm-orders-db-replica-02", "0 of 1", "MFA yes, isolated identity yes, rule vm-write"} {
		assert.Contains(t, queue, want)
	}
	b.shot("provider-queue", true)
	b.shotFrom("provider-queue-decide", "#reason-"+r.RequestID, false)
	b.do(chromedp.SetValue(chromedp.ID("reason-"+r.RequestID), "Ticket INC-2081 and the two machines match; the customer's DBA is on the bridge."),
		chromedp.Click(chromedp.CSS(`form.decide button[value="approve"]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	assert.Contains(t, b.text(".flash"), "It has gone to the customer")
	b.signOut()

	// The customer's approver: the request, with what the provider checked.
	b.signIn(s.token(t, "contoso", "alice", lockbox.RoleApprover))
	b.open("/requests/" + r.RequestID)
	checked := b.text("section[aria-labelledby=provider-checks]")
	for _, want := range []string{"Checked by the provider", "lead-2@provider.example", "vm-write"} {
		assert.Contains(t, checked, want)
	}
	b.shotFrom("provider-checked-request", "#provider-checks", false)
	b.do(chromedp.SetValue(chromedp.ID("reason"), "Confirmed with our on-call DBA."),
		chromedp.Click(chromedp.CSS(`form.decide button[value="approve"]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	b.signOut()

	// The engineer's console: the live grant and how to use it.
	b.signIn(s.token(t, "provider", "eng-7", lockbox.RoleRequester))
	b.open("/provider?tenant=contoso")
	mine := b.text("section[aria-labelledby=mine]")
	for _, want := range []string{"INC-2081", "Approved", "lockboxctl ssh-cert -tenant contoso -request " + r.RequestID, "INC-7007"} {
		assert.Contains(t, mine, want)
	}
	b.shot("provider-engineer", false)
	b.shotFrom("provider-engineer-grant", "section[aria-labelledby=mine] pre", false)
}

// mailMessage is a message of make run's mailbox.
type mailMessage struct{ ID, Subject, Text, HTML string }

// waitForMail waits for the mail about support case ticket to to.
func waitForMail(t *testing.T, s *stackRun, ticket, to string) mailMessage {
	t.Helper()
	var msg mailMessage
	require.Eventually(t, func() bool {
		status, body := s.call(t, http.MethodGet, "/mailbox/api/v1/messages", "", nil)
		var list struct {
			Messages []struct {
				ID, Subject string
				To          []struct{ Address string }
			}
		}
		if status != http.StatusOK || json.Unmarshal(body, &list) != nil {
			return false
		}
		for _, m := range list.Messages {
			if strings.Contains(m.Subject, ticket) && len(m.To) == 1 && m.To[0].Address == to {
				status, body := s.call(t, http.MethodGet, "/mailbox/api/v1/message/"+m.ID, "", nil)
				return status == http.StatusOK && json.Unmarshal(body, &msg) == nil
			}
		}
		return false
	}, 10*time.Second, 100*time.Millisecond, "no mail about %s for %s", ticket, to)
	return msg
}

// mintWith mints a token like token whose claims edit changes first.
func (s *stackRun) mintWith(t testing.TB, tenant, sub string, edit func(c *auth.Claims), roles ...lockbox.Role) string {
	t.Helper()
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	c := auth.NewClaims(sub, tenant, names, time.Now(), time.Hour)
	edit(&c)
	tok, err := auth.Mint(s.secret(t, config.SecretJWT), c)
	require.NoError(t, err)
	return tok
}
