// Package redisclienttest makes miniredis pass redisclient.CheckNoEviction.
//
// miniredis answers neither INFO memory nor CONFIG, so the check fails
// closed against it. It also never evicts a key, so "noeviction" is the
// truth for it: RegisterConfig teaches it CONFIG GET maxmemory-policy.
package redisclienttest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"

	"lockbox.dev/shared/redisclient"
)

// policyParam is the one CONFIG parameter the registered command knows.
const policyParam = "maxmemory-policy"

// RegisterConfig registers a CONFIG command on the running server m that
// answers CONFIG GET maxmemory-policy with policy (other parameters: an empty
// answer; other subcommands: an error). Register it again after m.Restart,
// which starts a new server. Like every command registered on miniredis, it
// answers without AUTH: it reveals only the policy.
func RegisterConfig(m *miniredis.Miniredis, policy string) error {
	srv := m.Server()
	if srv == nil {
		return errors.New("register CONFIG: miniredis is not running")
	}
	if err := srv.Register("CONFIG", configCommand(policy)); err != nil {
		return fmt.Errorf("register CONFIG: %w", err)
	}
	return nil
}

// configCommand answers CONFIG GET for the policy parameter, matched
// exactly (not as a glob), case-insensitively.
func configCommand(policy string) server.Cmd {
	return func(c *server.Peer, cmd string, args []string) {
		if len(args) < 2 || !strings.EqualFold(args[0], "GET") {
			c.WriteError("ERR this miniredis answers only CONFIG GET " + policyParam)
			return
		}
		for _, param := range args[1:] {
			if strings.EqualFold(param, policyParam) {
				c.WriteMapLen(1)
				c.WriteBulk(policyParam)
				c.WriteBulk(policy)
				return
			}
		}
		c.WriteMapLen(0)
	}
}

// Miniredis starts a miniredis for t (closed when t ends) that passes
// redisclient.CheckNoEviction.
func Miniredis(t testing.TB) *miniredis.Miniredis {
	t.Helper()
	m := miniredis.RunT(t)
	if err := RegisterConfig(m, redisclient.NoEviction); err != nil {
		t.Fatal(err)
	}
	return m
}
