package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/mail"
)

// Long, realistic values: the Azure resource ids of a production
// deployment, a long name and address, a justification quoting a
// correlation id and a URL. A mail must read on a phone with all of them.
const (
	longRG = "/subscriptions/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/resourceGroups/contoso-production-westeurope-rg/providers/"
	longVM = longRG + "Microsoft.Compute/virtualMachines/contoso-prod-sql-vm-westeurope-001"
	longDB = longRG + "Microsoft.Sql/servers/contoso-prod-sql-westeurope/databases/contoso-orders-production-primary"

	longJustification = "Since the maintenance window of 2026-04-12 02:00 UTC, writes to the orders database time out for about one request in twenty " +
		"(correlation ids 7c9e6679-7425-40de-944b-e07fc1f90ae7 and 16fd2706-8baf-433b-82eb-8c7fada847da). I need to read the SQL " +
		"Server error log and the VM's Event Viewer; see https://status.provider.example/incidents/2026-04-12/sql-write-timeouts-westeurope-primary-replica."
)

// longRequest is a pending request with the longest realistic values.
func longRequest(now time.Time) lockbox.Request {
	return lockbox.Request{
		RequestID: "6f1c2d7e-0b4a-4c1e-9a55-3f2b8c9d0e1f", TenantID: "contoso-production-emea",
		SubscriptionID: "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", ResourceType: "Microsoft.Compute/virtualMachines",
		ResourceIDs: []string{longVM, longDB}, AccessLevel: "VirtualMachineAdministratorLogin",
		Justification: longJustification, SupportRequest: "ZD-2026-0412-000187",
		SupportCaseURL: "https://support.provider.example/agent/tickets/2026041200018734?view=conversation&filter=internal-notes",
		WorkItemSource: "zendesk",
		Requester: lockbox.Requester{ID: "maximilian.vonhohenberg-schwarzenfels@support.provider.example",
			DisplayName: "Maximilian Alexander von Hohenberg-Schwarzenfels", Email: "maximilian.vonhohenberg-schwarzenfels@support.provider.example"},
		Status: lockbox.StatusPending, CreatedDateTime: now, ExpirationDateTime: now.Add(96 * time.Hour),
		Duration: 8, RequiredApprovals: 2, Approvals: []lockbox.Approval{},
	}
}

// longNotifications are a notification of every type about longRequest,
// each with the request as it stands then.
func longNotifications(now time.Time) []lockbox.Notification {
	const approver = "anne-kathrin.mueller-luedenscheidt@contoso-holdings.example"
	reason := "Confirmed with the customer's on-call database administrator (ticket CHG-2026-04-12-0042-westeurope-sql-primary)."
	pending := longRequest(now)
	pending.Approvals = []lockbox.Approval{{By: approver, Reason: reason, DateTime: now.Add(time.Hour), Duration: 4}}
	approved := pending
	approved.Status, approved.AccessActive = lockbox.StatusApproved, true
	approved.Decision = &lockbox.Decision{By: approver, Reason: reason, DateTime: now.Add(time.Hour)}
	end := now.Add(5 * time.Hour)
	approved.AccessExpirationDateTime = &end
	revoked := approved
	revoked.Status, revoked.AccessActive = lockbox.StatusRevoked, false
	revoked.Closure = &lockbox.Decision{By: approver, Reason: reason, DateTime: now.Add(2 * time.Hour)}
	first, last := now.Add(70*time.Minute), now.Add(110*time.Minute)
	receipt := revoked
	receipt.Usage = &lockbox.Usage{Checks: 14, Credentials: 1, FirstUseDateTime: &first, LastUseDateTime: &last,
		Resources: []lockbox.ResourceUsage{{ResourceID: longVM, Checks: 14, FirstUseDateTime: first, LastUseDateTime: last}}}
	engineer := lockbox.Actor{Kind: lockbox.ActorEngineer, ID: pending.Requester.ID}
	person := lockbox.Actor{Kind: lockbox.ActorApprover, ID: approver}
	system := lockbox.Actor{Kind: lockbox.ActorSystem, ID: lockbox.SystemActor}
	expired := pending
	expired.Status = lockbox.StatusExpired
	canceled := pending
	canceled.Status = lockbox.StatusCanceled
	canceled.Closure = &lockbox.Decision{By: pending.Requester.ID, Reason: reason, DateTime: now.Add(time.Hour)}
	one := longRequest(now)
	one.ResourceIDs = one.ResourceIDs[:1]
	// Emergency access let in by two provider-approvers, then disputed.
	emergency := approved
	emergency.Decision = &lockbox.Decision{By: "support-lead-emea-westeurope-02@provider.example", Reason: reason, DateTime: now.Add(time.Hour)}
	due := now.Add(73 * time.Hour)
	emergency.Emergency = &lockbox.Emergency{Incident: "SEV1-2026-0412-0003 orders primary corrupting writes after the storage failover",
		Reason:            "Region outage in West Europe; the customer's approvers were not reachable on their bridge or by phone for 40 minutes.",
		ReviewDueDateTime: &due}
	emergency.ProviderChecks = &lockbox.ProviderChecks{MFA: true, InternalApprovalsRequired: 2, PolicyRule: "vm-emergency-westeurope",
		InternalApprovals: []lockbox.InternalApproval{{By: "support-lead-emea-westeurope-01@provider.example", DateTime: now.Add(50 * time.Minute)},
			{By: "support-lead-emea-westeurope-02@provider.example", DateTime: now.Add(time.Hour)}}}
	disputed := emergency
	disputed.Emergency = &lockbox.Emergency{Incident: emergency.Emergency.Incident, Reason: emergency.Emergency.Reason, ReviewDueDateTime: &due,
		Review: &lockbox.EmergencyReview{Verdict: "dispute", By: approver, Reason: reason, DateTime: now.Add(3 * time.Hour)}}
	return []lockbox.Notification{
		{ID: "n-created", Type: lockbox.NoteCreated, Request: one, Time: now, Actor: engineer},
		{ID: "n-created-2", Type: lockbox.NoteCreated, Request: longRequest(now), Time: now, Actor: engineer},
		{ID: "n-reminder", Type: lockbox.NoteReminder, Request: pending, Time: now.Add(94 * time.Hour), Actor: system},
		{ID: "n-escalated", Type: lockbox.NoteEscalated, Request: pending, Time: now.Add(95 * time.Hour), Actor: system},
		{ID: "n-approval", Type: lockbox.NoteApproval, Request: pending, Time: now.Add(time.Hour), Actor: person, Reason: reason},
		{ID: "n-approved", Type: lockbox.NoteApproved, Request: approved, Time: now.Add(time.Hour), Actor: person, Reason: reason},
		{ID: "n-denied", Type: lockbox.NoteDenied, Request: approved, Time: now.Add(time.Hour), Actor: lockbox.Actor{Kind: lockbox.ActorSystem,
			ID: lockbox.RuleActor("auto-deny-outside-business-hours-europe-berlin")}},
		{ID: "n-ending", Type: lockbox.NoteEnding, Request: approved, Time: end.Add(-30 * time.Minute), Actor: system},
		{ID: "n-revoked", Type: lockbox.NoteRevoked, Request: revoked, Time: now.Add(2 * time.Hour), Actor: person, Reason: reason},
		{ID: "n-expired", Type: lockbox.NoteExpired, Request: expired, Time: now.Add(96 * time.Hour), Actor: system},
		{ID: "n-canceled", Type: lockbox.NoteCanceled, Request: canceled, Time: now.Add(time.Hour), Actor: engineer, Reason: reason},
		{ID: "n-receipt", Type: lockbox.NoteReceipt, Request: receipt, Time: now.Add(2 * time.Hour), Actor: person},
		{ID: "n-emergency", Type: lockbox.NoteEmergency, Request: emergency, Time: now.Add(time.Hour),
			Actor: lockbox.Actor{Kind: lockbox.ActorProviderApprover, ID: emergency.Decision.By}, Reason: reason},
		{ID: "n-emergency-disputed", Type: lockbox.NoteEmergencyDisputed, Request: disputed, Time: now.Add(3 * time.Hour), Actor: person,
			Reason: reason},
		{ID: "n-emergency-unreviewed", Type: lockbox.NoteEmergencyUnreviewed, Request: emergency, Time: due, Actor: system},
	}
}

// TestMailFitsPhone renders every kind of mail with the longest realistic
// values and opens its HTML part in chromium at 320 and 375 px: nothing
// may be wider than the screen (the page does not scroll sideways), and the
// long values are all there. It needs chromium, not the stack. With
// LOCKBOX_MAIL_SCREENSHOTS set, the approver's mail is saved there as
// approver-mail-phone.png and -desktop.png (the README shows them), and scrolled to its
// resources as approver-mail-resources-phone.png.
func TestMailFitsPhone(t *testing.T) {
	chromium := requireBinary(t, "chromium", "apt-get install -y chromium")
	shots := os.Getenv("LOCKBOX_MAIL_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	b := newBrowser(t, chromium, "", shots)
	now := time.Date(2026, 4, 12, 7, 41, 0, 0, time.UTC)
	recipient := "Anne-Kathrin Müller-Lüdenscheidt <anne-kathrin.mueller-luedenscheidt@contoso-holdings.example>"
	for _, n := range longNotifications(now) {
		subject, _, html, err := mail.Render(n, "https://lockbox.contoso-holdings.example/function/lockbox-portal", recipient)
		require.NoError(t, err, n.Type)
		b.do(chromedp.Navigate("data:text/html;base64," + base64.StdEncoding.EncodeToString([]byte(html))))
		for _, width := range []int64{320, 375} {
			b.do(chromedp.EmulateViewport(width, phoneHeight))
			scroll := step(b, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`))
			assert.LessOrEqual(t, scroll, width, fmt.Sprintf("%s (%q) at %d px: the page is %d px wide", n.Type, subject, width, scroll))
		}
		b.do(chromedp.EmulateViewport(desktopWidth, desktopHeight))
		if n.ID == "n-created-2" {
			text := b.text("body")
			for _, want := range []string{"contoso-prod-sql-vm-westeurope-001", "contoso-orders-production-primary",
				"Maximilian Alexander von Hohenberg-Schwarzenfels", "sql-write-timeouts-westeurope-primary-replica"} {
				assert.Contains(t, text, want)
			}
			b.shot("approver-mail", true)
			b.shotFrom("approver-mail-resources", "strong", false)
		}
		if n.ID == "n-emergency" {
			text := b.text("body")
			for _, want := range []string{"SEV1-2026-0412-0003", "support-lead-emea-westeurope-01@provider.example", "Review the emergency access"} {
				assert.Contains(t, text, want)
			}
			b.shot("emergency-mail", true)
		}
	}
}
