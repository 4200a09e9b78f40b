package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"lockbox.dev/shared/lockbox"
)

// AddPasskey implements lockbox.PasskeyStore: one script checks the
// person's count and the credential id, stores the passkey and records
// RegisterLockboxPasskey.
func (s *Store) AddPasskey(ctx context.Context, tenant string, pk lockbox.Passkey) error {
	return s.passkeyStep(ctx, tenant, "add", pk, pk.Created, "registered passkey "+strconv.Quote(pk.Name)+" "+pk.ID)
}

// RemovePasskey implements lockbox.PasskeyStore. The passkey's public key
// is kept (as removed), so that the export still verifies what it signed.
func (s *Store) RemovePasskey(ctx context.Context, tenant, userKey, id string, now time.Time) error {
	list, err := s.Passkeys(ctx, tenant, userKey)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(list, func(p lockbox.Passkey) bool { return p.ID == id })
	if i < 0 {
		return lockbox.Errorf(lockbox.KindNotFound, "NotFound", "you have no such passkey")
	}
	pk := list[i]
	at := now.UTC().Truncate(time.Millisecond)
	pk.Removed = &at
	return s.passkeyStep(ctx, tenant, "remove", pk, now, "removed passkey "+strconv.Quote(pk.Name)+" "+pk.ID)
}

func (s *Store) passkeyStep(ctx context.Context, tenant, mode string, pk lockbox.Passkey, now time.Time, reason string) error {
	doc, err := encodeJSON(pk)
	if err != nil {
		return lockbox.Internal("encode passkey", err)
	}
	k := keysFor(tenant)
	res, err := passkeyScript.Run(ctx, s.rdb, []string{k.of("passkeys", pk.UserKey)}, passkeyArgs{Prefix: string(k), Mode: mode,
		User: pk.UserKey, Cred: pk.ID, Doc: doc, Count: int64(pk.SignCount), Max: lockbox.MaxPasskeys, NowMs: ms(now),
		ActorKind: string(lockbox.ActorApprover), ActorID: pk.Subject, Reason: reason}).Slice()
	if err != nil {
		return classify(mode+" passkey", err)
	}
	if isRefusal(res) {
		switch str(res[1]) {
		case "pkMany":
			return lockbox.Errorf(lockbox.KindTooMany, "TooManyPasskeys", "you hold %d passkeys in this tenant: remove one first", lockbox.MaxPasskeys)
		case "pkExists":
			return lockbox.Errorf(lockbox.KindConflict, "PasskeyExists", "this passkey is registered already")
		case "notfound":
			return lockbox.Errorf(lockbox.KindNotFound, "NotFound", "you have no such passkey")
		}
		return lockbox.Internal(mode+" passkey", fmt.Errorf("unexpected reply %v", res))
	}
	if _, err := s.rdb.SAdd(ctx, TenantsKey, tenant).Result(); err != nil { // its event must be exported
		return classify(mode+" passkey", err)
	}
	return nil
}

// Passkeys implements lockbox.PasskeyStore.
func (s *Store) Passkeys(ctx context.Context, tenant, userKey string) ([]lockbox.Passkey, error) {
	m, err := s.rdb.HGetAll(ctx, keysFor(tenant).of("passkeys", userKey)).Result()
	if err != nil {
		return nil, classify("read passkeys", err)
	}
	return passkeysOf(m, false)
}

// AllPasskeys implements lockbox.PasskeyStore.
func (s *Store) AllPasskeys(ctx context.Context, tenant string) ([]lockbox.Passkey, error) {
	k := keysFor(tenant)
	users, err := s.rdb.SMembers(ctx, k.of("pkUsers", "")).Result()
	if err != nil {
		return nil, classify("read passkeys", err)
	}
	slices.Sort(users)
	var out []lockbox.Passkey
	for _, u := range users {
		m, err := s.rdb.HGetAll(ctx, k.of("passkeys", u)).Result()
		if err != nil {
			return nil, classify("read passkeys", err)
		}
		list, err := passkeysOf(m, true)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

// passkeysOf decodes a person's passkeys hash, oldest first: the live ones,
// and with removed the removed ones too.
func passkeysOf(m map[string]string, removed bool) ([]lockbox.Passkey, error) {
	out := []lockbox.Passkey{}
	for f, v := range m {
		if strings.HasPrefix(f, "n:") || (strings.HasPrefix(f, "x:") && !removed) {
			continue
		}
		var pk lockbox.Passkey
		if err := json.Unmarshal([]byte(v), &pk); err != nil {
			return nil, lockbox.Internal("decode passkey", err)
		}
		if n, err := strconv.ParseUint(m["n:"+pk.ID], 10, 32); err == nil {
			pk.SignCount = uint32(n)
		}
		out = append(out, pk)
	}
	slices.SortFunc(out, func(a, b lockbox.Passkey) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
