package localrun

import (
	"fmt"
	"io"
	"os"
	"strings"

	"lockbox.dev/scripts/internal/stack"
)

// SampleBody is the request the banner's example files.
const SampleBody = `{"tenantId":"contoso","resourceType":"postgres","resourceIds":["db-1"],"accessLevel":"Read",` +
	`"justification":"slow queries since the upgrade","supportRequest":"INC-1001","requester":{"id":"eng-7","displayName":"Support Engineer"}}`

// SampleSettings are the settings the banner's example saves: alice approves
// and is mailed every request.
const SampleSettings = `{"enabled":true,"approvers":[{"id":"alice","email":"alice@contoso.example","displayName":"Alice"}],` +
	`"reminders":["24h","2h"],"requiredApprovals":1,"rules":[],"webhooks":[]}`

func printBanner(w io.Writer, r *Running, st *stack.Stack, secretsDir, faasCLI string) {
	secretsFlag := ""
	if secretsDir != ".secrets" {
		secretsFlag = " -secrets " + secretsDir
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("")
	p("Lockbox is up (%.1fs): %d functions behind a local OpenFaaS-compatible gateway", r.Started.Seconds(), len(r.backends))
	p("")
	p("  gateway    %s   (/system/* basic auth: %s / %s)", r.Gateway, AdminUser, r.Password)
	for i, name := range st.Names() {
		label := ""
		if i == 0 {
			label = "functions"
		}
		p("  %-10s %s/function/%s   (process on %s)", label, r.Gateway, name, r.backends[name].addr)
	}
	p("  redis      %s", r.Redis.Desc)
	p("  s3         %s", r.S3.Desc)
	if r.PortalToken != "" {
		p("  portal     %s/function/lockbox-portal/   (sign in as alice, approver of contoso, with the token below)", r.Gateway)
	}
	p("  mail       %s", r.Mail.Desc)
	if r.Mail.URL != "" {
		p("  mailbox    %s/mailbox/   (Mailpit's API: %s/mailbox/api/v1/messages)", r.Gateway, r.Gateway)
	}
	p("  secrets    %s/ (one file per secret, generated where missing, git-ignored)", secretsDir)
	if len(r.Cron) == 0 {
		p("  cron       no function is annotated topic=cron-function")
	}
	for _, name := range sortedKeys(r.Cron) {
		p("  cron       %s on %q", name, r.Cron[name])
	}
	if r.PortalToken != "" {
		p("")
		p("Approve in the browser: open %s/function/lockbox-portal/, paste this token (valid %s) and sign in:", r.Gateway, demoTokenTTL)
		p("  %s", r.PortalToken)
	}
	p("")
	p("Try it from another terminal in this folder:")
	if faasCLI != "" {
		if _, err := os.Stat(faasCLI); err != nil {
			p("(bin/faas-cli is being built in the background; a line below says when it is ready)")
		}
	}
	p("")
	p("  export OPENFAAS_URL=%s", r.Gateway)
	p("  echo -n %s | bin/faas-cli login --username %s --password-stdin", r.Password, AdminUser)
	p("  bin/faas-cli list")
	p("")
	p("  # the tenant's settings: read their ETag (\"0\" until first saved), then name alice its approver")
	p(`  ADMIN=$(bin/lockboxctl token%s -sub ada -tenant contoso -role lockbox.admin)`, secretsFlag)
	p(`  ETAG=$(curl -s -o /dev/null -w '%%header{etag}' %s/function/lockbox-settings -H "Authorization: Bearer $ADMIN")`, r.Gateway)
	p(`  curl -s -X PUT %s/function/lockbox-settings -H "Authorization: Bearer $ADMIN" -H "If-Match: $ETAG" -H 'Content-Type: application/json' \`, r.Gateway)
	p(`    -d '%s'`, SampleSettings)
	p("")
	p("  # file a request as the ticketing system does: a signed webhook")
	p("  BODY='%s'", SampleBody)
	p(`  echo -n "$BODY" | bin/faas-cli invoke lockbox-create --content-type application/json $(bin/lockboxctl sign%s "$BODY")`, secretsFlag)
	p("")
	if r.Mail.URL != "" {
		p("  # alice is mailed at once: read it at %s/mailbox/ or through Mailpit's API", r.Gateway)
		p(`  curl -s %s/mailbox/api/v1/messages`, r.Gateway)
		p("")
	}
	p("  # list the tenant's requests as its reader")
	p(`  bin/faas-cli invoke lockbox-list -m GET -H "Authorization=Bearer $(bin/lockboxctl token%s -sub rita -tenant contoso -role lockbox.reader)" </dev/null`, secretsFlag)
	p("")
	p("  # approve it as the tenant's approver (requestId from the answer above)")
	p(`  echo -n '{"requestId":"<requestId>","reason":"checked with the customer"}' | bin/faas-cli invoke lockbox-approve --content-type application/json -H "Authorization=Bearer $(bin/lockboxctl token%s -sub alice -tenant contoso -role lockbox.approver)"`, secretsFlag)
	p("")
	p("  # end that grant now, as the tenant's admin")
	p(`  echo -n '{"requestId":"<requestId>","reason":"the case is closed"}' | bin/faas-cli invoke lockbox-revoke --content-type application/json -H "Authorization=Bearer $(bin/lockboxctl token%s -sub ada -tenant contoso -role lockbox.admin)"`, secretsFlag)
	p("")
	if _, ok := r.Cron["lockbox-audit"]; ok {
		p("  # lockbox-audit exports the audit log on its schedule; verify a tenant's archive")
		p("  make verify-audit TENANT=contoso")
		p("")
	}
	if _, ok := r.backends["lockbox-metrics"]; ok {
		p("  # what Prometheus sees: scrape lockbox-metrics with the token of the secret metrics-token (docs/operations.md)")
		p(`  curl -s %s/function/lockbox-metrics -H "Authorization: Bearer $(cat %s/metrics-token)"`, r.Gateway, secretsDir)
		p("")
	}
	p("Ctrl-C stops everything.")
	_, _ = io.WriteString(w, b.String())
}
