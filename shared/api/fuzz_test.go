package api_test

import (
	"net/http"
	"testing"

	"lockbox.dev/shared/api"
	"lockbox.dev/shared/app/apitest"
	"lockbox.dev/shared/lockbox"
)

// FuzzListQuery sends arbitrary query strings (parameters and cursors) to
// lockbox-list as a reader: the answer is 200, 400 or 404, never a 5xx, and
// never a request of another tenant.
func FuzzListQuery(f *testing.F) {
	for _, seed := range []string{"", "limit=1", "status=Pending&limit=100", "cursor=djF8Y29udG9zb3x8fDI", "requestId=abc",
		"tenantId=fabrikam", "limit=0", "limit=1&limit=2", "%zz", "cursor=" + string(make([]byte, 600)), "status=Expired&cursor=x"} {
		f.Add(seed)
	}
	e := apitest.New(f)
	for range 3 {
		e.File("contoso", "eng-7")
		e.File("fabrikam", "eng-7")
	}
	token := e.Token("rita", "contoso", lockbox.RoleReader)
	f.Fuzz(func(t *testing.T, query string) {
		resp := serve(e, api.List, e.Get(token, query))
		switch resp.StatusCode {
		case http.StatusOK:
			for _, r := range apitest.Decode[api.ListResponse](t, resp).Value {
				if r.TenantID != "contoso" {
					t.Fatalf("query %q returned tenant %s", query, r.TenantID)
				}
			}
		case http.StatusBadRequest, http.StatusNotFound, http.StatusForbidden:
		default:
			t.Fatalf("query %q: status %d: %s", query, resp.StatusCode, resp.Body)
		}
	})
}
