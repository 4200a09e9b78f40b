package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"lockbox.dev/shared/app/portaltest"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/portal"
)

// The bench signs in through the token form as a person does, and the
// session's cookie opens the pending page, which lists the tenant's
// requests; the portal run's call reads the same page.
func TestPortalSignIn(t *testing.T) {
	e := portaltest.New(t, portaltest.Options{NoActivity: true})
	for _, who := range []string{"eng-1", "eng-2", "eng-3"} {
		e.File("contoso", who)
	}
	client := portalClient()
	cookie, err := portalSignIn(client, e.URL, e.Token("alice", "contoso", lockbox.RoleApprover))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(cookie, portal.SessionCookie+"="), cookie)

	links, err := checkPendingPage(client, e.URL, cookie)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, links, 3)

	g := &generator{client: client}
	call, err := g.portalCaller(Job{URL: e.URL, Cookie: cookie})
	require.NoError(t, err)
	assert.NoError(t, call(context.Background(), Item{Tenant: "contoso"}))

	_, err = checkPendingPage(client, e.URL, portal.SessionCookie+"=none")
	assert.Error(t, err, "no session: a redirect to the sign-in page")
	_, err = portalSignIn(client, e.URL, "not-a-token")
	assert.ErrorContains(t, err, "POST /login answered 401", "a token that is not a JWT")
	_, err = g.portalCaller(Job{URL: e.URL})
	assert.Error(t, err, "no cookie")
}

// An empty tenant's page lists nothing: the check refuses it.
func TestPendingPageEmpty(t *testing.T) {
	e := portaltest.New(t, portaltest.Options{NoActivity: true})
	client := portalClient()
	cookie, err := portalSignIn(client, e.URL, e.Token("alice", "contoso", lockbox.RoleApprover))
	require.NoError(t, err)
	_, err = checkPendingPage(client, e.URL, cookie)
	assert.ErrorContains(t, err, "lists no requests")
}
