package usecase

import (
	"context"
	"slices"
	"time"

	"lockbox.dev/shared/lockbox"
)

// Settings returns the settings of the tenant p names ("" for their own)
// as p may see them: the tenant's admins without webhook secrets, everyone
// else (its approvers and readers, operators and signed services naming it)
// with webhook URLs cut to scheme and host too. Errors: KindInvalid,
// KindForbidden, KindUnavailable.
func (s *Service) Settings(ctx context.Context, p lockbox.Principal, tenantID string) (lockbox.Settings, error) {
	tenant, err := lockbox.AuthorizeSettings(p, tenantID, false)
	if err != nil {
		return lockbox.Settings{}, err
	}
	set, err := s.SettingsStore.Settings(ctx, tenant)
	if err != nil {
		return lockbox.Settings{}, err
	}
	return viewFor(p, tenant, set), nil
}

// viewFor is set as p sees it.
func viewFor(p lockbox.Principal, tenant string, set lockbox.Settings) lockbox.Settings {
	if p.Kind == lockbox.KindUser && p.Has(lockbox.RoleAdmin) && p.TenantID == tenant {
		return set.ForAdmin()
	}
	return set.Public()
}

// PutSettings stores next as the settings of the tenant p names ("" for
// their own) if their current version is among ifVersions (the entity tags
// of an If-Match; none matching is a stale read): only the tenant's own
// admin changes them. next is validated (each webhook URL checked), merged
// with the stored write-only secrets, each rule keeps its author unless it
// changed, and the change is recorded as UpdateLockboxSettings, its reason
// naming what changed. lockbox-settings' PUT and the portal's settings form
// both end here. Errors: KindInvalid (nothing stored), KindForbidden,
// KindPreconditionFailed (ErrStaleSettings), KindUnavailable.
func (s *Service) PutSettings(ctx context.Context, p lockbox.Principal, tenantID string, next lockbox.Settings, ifVersions []int64) (lockbox.Settings, error) {
	tenant, err := lockbox.AuthorizeSettings(p, tenantID, true)
	if err != nil {
		return lockbox.Settings{}, err
	}
	if err := next.Validate(s.AllowPlainHTTP); err != nil {
		return lockbox.Settings{}, err
	}
	for i, w := range next.Webhooks {
		if err := s.URLs.Check(ctx, w.URL); err != nil {
			return lockbox.Settings{}, lockbox.Invalidf("webhooks[%d].url: %v", i, err)
		}
	}
	prev, err := s.SettingsStore.Settings(ctx, tenant)
	if err != nil {
		return lockbox.Settings{}, err
	}
	if !slices.Contains(ifVersions, prev.Version) {
		return lockbox.Settings{}, lockbox.ErrStaleSettings()
	}
	if next, err = next.Updated(prev, p.Subject); err != nil {
		return lockbox.Settings{}, err
	}
	actor := lockbox.Actor{Kind: lockbox.ActorAdmin, ID: p.Subject}
	stored, err := s.SettingsStore.PutSettings(ctx, tenant, next, prev.Version, actor, next.Changes(prev), s.now())
	if err != nil {
		return lockbox.Settings{}, err
	}
	s.Log.Info("lockbox settings changed", "tenantId", tenant, "version", stored.Version, "by", p.Subject)
	return viewFor(p, tenant, stored), nil
}

// GrantCap is the deployment's longest grant (max_access_ttl): it caps
// every grant, whatever a tenant's maxDuration says.
func (s *Service) GrantCap() time.Duration { return s.Store.Limits().MaxAccessTTL }
