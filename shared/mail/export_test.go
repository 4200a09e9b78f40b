package mail

import (
	"crypto/x509"
	"time"
)

// SetRootCAs makes s trust the CAs of pool (a test's throwaway CA) instead
// of the system's.
func SetRootCAs(s *Sender, pool *x509.CertPool) { s.tlsConfig.RootCAs = pool }

// SetTimeout replaces Timeout for s.
func SetTimeout(s *Sender, d time.Duration) { s.timeout = d }

// SetNow replaces the clock that dates s's mails.
func SetNow(s *Sender, now func() time.Time) { s.now = now }
