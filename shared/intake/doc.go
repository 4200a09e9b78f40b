// Package intake is the pure part of lockbox-intake: a ticketing system's
// own webhook (Jira, GitHub, Zendesk or ServiceNow), in its own format and
// with its own signature, files or withdraws a lockbox request with no
// middleman.
//
// The package reads the configuration (Load), checks a delivery's signature
// exactly as its vendor documents it (Source.Verify), and maps the delivery
// to what it asks for (Source.Route): a lockbox.CreateInput to file, a ticket
// to close, or nothing. It touches no store and no network; the flow on top
// of it files the request.
//
// # Configuration
//
// The configuration is one YAML document (the OpenFaaS secret
// lockbox-intake-config). Unknown keys, anchors and aliases are refused, and
// Load reports every problem at once, each named by its place in the
// document (sources.jira.actions[0].map.requester.id: path is empty).
//
//	sources:
//	  jira:                      # the <source> of POST /function/lockbox-intake/<source>: [a-z0-9-]{1,64}
//	    kind: jira               # jira | github | zendesk | servicenow
//	    secrets:                 # 1..8 secrets of 16..1024 bytes; several during a rotation, each verifies
//	      - "current secret, at least 16 bytes"
//	    tenant: { path: "issue.fields.customfield_10050.value" }   # or { value: "contoso" }
//	    actions:                 # 1..32; the first whose condition matches decides
//	      - name: file           # optional, [a-z0-9-]{1,64}; default: the value of do
//	        when: { path: "webhookEvent", equals: "jira:issue_created" }
//	        do: create
//	        map:
//	          resourceType:   { path: "issue.fields.customfield_10051.value" }
//	          resourceIds:    { path: "issue.fields.customfield_10052", split: "\n" }
//	          justification:  { template: "{{issue.fields.summary}}: {{issue.fields.description?}}" }
//	          supportRequest: { path: "issue.key" }
//	          supportCaseUrl: { template: "https://contoso.atlassian.net/browse/{{issue.key}}" }
//	          requester:
//	            id:          { path: "issue.fields.reporter.emailAddress" }
//	            displayName: { path: "issue.fields.reporter.displayName" }
//	            email:       { path: "issue.fields.reporter.emailAddress" }
//	          accessLevel:    { value: "Read" }
//	          duration:       { path: "issue.fields.customfield_10053" }   # hours: a whole number or a numeric string
//	          workItemSource: { value: "Jira" }
//	      - when:
//	          all:
//	            - { path: "webhookEvent", equals: "jira:issue_updated" }
//	            - { path: "issue.fields.status.statusCategory.key", equals: "done" }
//	        do: close            # cancel the ticket's pending requests, revoke its live grants
//	        ticket: { path: "issue.key" }
//	        reason: { template: "Jira issue {{issue.key}} was resolved" }   # optional
//
// A ServiceNow source says how its deliveries are authenticated:
//
//	servicenow:
//	  auth: basic                # basic: Authorization: Basic <username>:<one of the secrets>
//	  username: lockbox
//	  deliveryHeader: X-SN-Delivery   # optional: a header naming the delivery, for de-duplication
//	# or
//	servicenow:
//	  auth: hmac                 # hmac: base64(HMAC-SHA256(secret, body)) in header
//	  header: X-SN-Signature     # the default
//
// # Values
//
// Every mapped field (and the tenant, the ticket and the reason) is exactly
// one of:
//
//   - value: a constant, checked when the configuration is loaded;
//   - path: a JSON path into the delivery, in the subset described below;
//   - template: text in which each {{path}} is replaced by the text at path;
//     {{path?}} stands for nothing when path is missing or null, where a
//     plain {{path}} makes the field missing. In supportCaseUrl, the
//     template must start with a literal http(s)://host/ and every
//     substituted value is escaped, so a ticket's text cannot change the
//     link's host.
//
// resourceIds takes a string (one id), an array of strings, or with split a
// string cut at each occurrence of the separator (blank entries dropped).
// duration takes a whole number or a string of digits. Other fields take a
// string; a number is taken as its JSON text (GitHub's issue.number: "42").
// A required field (resourceType, resourceIds, justification,
// supportRequest, requester.id, the tenant, a close's ticket) whose path is
// missing or null is a problem; an optional one is left out. A value of the
// wrong type (an object where text is wanted) is always a problem.
//
// # Paths
//
// Paths are github.com/tidwall/gjson paths restricted to a subset that only
// selects, never computes: components separated by '.', each one of
//
//   - a key of [A-Za-z0-9_$-] (digits index arrays: labels.0.name);
//   - '#': the length of an array, or before a further key, that key of each
//     element (labels.#.name);
//   - a query #(key.path=="text") or #(key.path==123), the first matching
//     element, or #(...)# for all of them (changelog.items.#(field=="status").toString).
//
// Refused: modifiers (@reverse, @join…), pipes, wildcards, escapes,
// multipaths ([…], {…}), literals (!true), JSON-lines (..), pattern and
// ordering operators in queries, nested queries; paths longer than 256
// bytes or of more than 16 components.
//
// # Conditions
//
// when is a leaf { path, equals | in | exists } or a combination
// { all: [...] }, { any: [...] }, { not: {...} } (nested at most 8 deep).
// equals and in compare as text: a string's content, a number's or a
// boolean's JSON literal; a missing or null value never equals anything.
// exists: true holds when the path is present and not null. An action
// without when acts on every delivery.
//
// # Bodies
//
// A delivery's body must be one JSON value, nested at most 64 deep, with no
// key twice in any object: a body built by a vendor's template
// (Zendesk, ServiceNow) cannot then smuggle a second "tenant" through a
// ticket's text, since the key it needs would be a duplicate.
package intake
