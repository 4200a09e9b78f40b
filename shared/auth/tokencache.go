package auth

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"

	"lockbox.dev/shared/lockbox"
)

// verifiedTokens remembers the HS256 bearer tokens a verifier accepted, by
// their SHA-256, and whom each names, until the token's exp. A client holds
// its token for many calls, and parsing one costs about 30 µs and 60
// allocations (its JSON decoded into maps), the largest part of a decision's
// CPU after HTTP and Redis. The same bytes verify the same way for as long as
// the verifier's secrets stay, and a verifier's secrets are fixed when it is
// built (read from files at start): nothing a later check would refuse is
// served from here before exp. Tokens of the identity provider's keys
// (JWKS) are not remembered, as those keys change while the process runs.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]verifiedToken
}

type verifiedToken struct {
	p   lockbox.Principal
	exp time.Time
}

// maxVerifiedTokens bounds the tokens remembered: when full, the expired
// ones go, and if none has, all do.
const maxVerifiedTokens = 4096

// get returns the principal of the token with hash sum, if it was accepted
// and has not expired at now.
func (c *verifiedTokens) get(sum [sha256.Size]byte, now time.Time) (lockbox.Principal, bool) {
	c.mu.Lock()
	e, ok := c.m[sum]
	if ok && !now.Before(e.exp) {
		delete(c.m, sum)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return lockbox.Principal{}, false
	}
	e.p.Roles = slices.Clone(e.p.Roles)
	return e.p, true
}

// put remembers that the token with hash sum, which expires at exp, names p.
func (c *verifiedTokens) put(sum [sha256.Size]byte, p lockbox.Principal, exp, now time.Time) {
	if !now.Before(exp) {
		return
	}
	p.Roles = slices.Clone(p.Roles)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[sha256.Size]byte]verifiedToken{}
	}
	if len(c.m) >= maxVerifiedTokens {
		for k, e := range c.m {
			if !now.Before(e.exp) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxVerifiedTokens {
			clear(c.m)
		}
	}
	c.m[sum] = verifiedToken{p: p, exp: exp}
}
