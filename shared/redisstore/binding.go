package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"lockbox.dev/shared/lockbox"
)

// Check implements lockbox.Store in one script (checkScript) over the
// engineer's live grants in tenant.
func (s *Store) Check(ctx context.Context, tenant, requester string, in lockbox.CheckInput, now time.Time) (lockbox.CheckResult, error) {
	k, key := keysFor(tenant), lockbox.UserKey(requester)
	res, err := checkScript.Run(ctx, s.rdb, []string{k.of("liveGrants", key)}, checkArgs{Prefix: string(k), RequesterKey: key,
		Canonical: lockbox.CanonicalID(requester), Requester: requester, Resource: in.ResourceID, Level: in.AccessLevel,
		Method: in.Method, URI: in.URI, NowMs: ms(now)}).Slice()
	if err != nil {
		return lockbox.CheckResult{}, classify("check access", err)
	}
	if len(res) == 3 && res[0] == "allow" {
		return lockbox.CheckResult{Allowed: true, RequestID: str(res[1]), AccessUntil: fromMs(str(res[2]))}, nil
	}
	if len(res) == 3 && res[0] == "refuse" {
		return lockbox.CheckResult{Code: str(res[1]), RequestID: str(res[2])}, nil
	}
	return lockbox.CheckResult{}, lockbox.Internal("check access", fmt.Errorf("unexpected script reply %v", res))
}

// IssueCredential implements lockbox.Store in one script
// (credentialScript).
func (s *Store) IssueCredential(ctx context.Context, tenant, id, requester string, c lockbox.Credential, now time.Time) (lockbox.Request, error) {
	k := keysFor(tenant)
	res, err := credentialScript.Run(ctx, s.rdb, []string{k.req(id)}, credentialArgs{Prefix: string(k), ID: id,
		RequesterKey: lockbox.UserKey(requester), Requester: requester,
		What: "ssh certificate serial " + strconv.FormatUint(c.Serial, 10) + " for key " + c.Fingerprint, NowMs: ms(now)}).Slice()
	if err != nil {
		return lockbox.Request{}, classify("issue a credential", err)
	}
	if isRefusal(res) {
		return lockbox.Request{}, refusal(res, id, now)
	}
	if len(res) != 2 || res[0] != "ok" {
		return lockbox.Request{}, lockbox.Internal("issue a credential", fmt.Errorf("unexpected script reply %v", res))
	}
	rec, err := pairs(res[1])
	if err != nil {
		return lockbox.Request{}, lockbox.Internal("issue a credential", err)
	}
	return decode(rec, false, true) // the script found the grant live, and Redis froze time
}

// The record's usage fields: checks and credentials counted, first and last
// use (ms), and per resource "<checks>,<first ms>,<last ms>" under
// usePrefix + its id.
const (
	useChecks = "useChecks"
	useCreds  = "useCreds"
	useFirst  = "useFirst"
	useLast   = "useLast"
	usePrefix = "useR:"
)

// usage reads a record's usage: nil until its first use. Resources are in
// the order the request names them.
func usage(rec map[string]string, resourceIDs []string) *lockbox.Usage {
	first, ok := rec[useFirst]
	if !ok {
		return nil
	}
	u := &lockbox.Usage{Resources: []lockbox.ResourceUsage{}}
	u.Checks, _ = strconv.Atoi(rec[useChecks])
	u.Credentials, _ = strconv.Atoi(rec[useCreds])
	f, l := fromMs(first), fromMs(rec[useLast])
	u.FirstUseDateTime, u.LastUseDateTime = &f, &l
	for _, id := range resourceIDs {
		v, ok := rec[usePrefix+id]
		if !ok {
			continue
		}
		parts := strings.Split(v, ",")
		if len(parts) != 3 {
			continue
		}
		n, _ := strconv.Atoi(parts[0])
		u.Resources = append(u.Resources, lockbox.ResourceUsage{ResourceID: id, Checks: n, FirstUseDateTime: fromMs(parts[1]),
			LastUseDateTime: fromMs(parts[2])})
	}
	return u
}
