package audit

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"lockbox.dev/shared/objectstore"
)

// VersionReader reads the versions of the archive's objects
// (objectstore.Store implements it). On a versioned bucket — and every
// bucket with object lock is one — deleting an object without naming a
// version only adds a delete marker in front of its data, and writing it
// again adds a version: a listing of versions shows both.
type VersionReader interface {
	// Versioning returns the bucket's versioning status: "Enabled",
	// "Suspended", or "" for a bucket that never had versioning.
	Versioning(ctx context.Context) (string, error)
	// ListVersions returns every version and delete marker under prefix,
	// in key order, each key's latest first.
	ListVersions(ctx context.Context, prefix string) ([]objectstore.Version, error)
	// GetVersion reads one version of key.
	GetVersion(ctx context.Context, key, versionID string) ([]byte, error)
}

// maxNamedKeys bounds how many tampered keys a BreakError's reason names.
const maxNamedKeys = 10

// tampered is a key whose versions show it deleted or overwritten.
type tampered struct {
	seq   uint64 // the first seq it makes untrustworthy (0: a name outside the layout)
	key   string
	short string // "deleted", "overwritten"...
	what  string
}

// versionCheck is what reading the versions of a tenant's archive found.
type versionCheck struct {
	checked  bool   // the versions were read
	warning  string // why deletions could not be (fully) checked
	tampered []tampered
}

// checkVersions reads the versions of every object and checkpoint of
// tenant, when r can list them, and reports each key that a delete marker
// hides (or once hid), and each whose latest version holds other bytes than
// an earlier one. The exporter never deletes, and a retried export writes
// the same bytes again, so either is tampering.
//
// Without versioning a deleted object leaves no trace: that is a warning,
// not a failure, and the chain is checked as it is listed.
func checkVersions(ctx context.Context, r ObjectReader, tenant string) (versionCheck, error) {
	var vc versionCheck
	vr, ok := r.(VersionReader)
	if !ok {
		vc.warning = "deletions not checked: the store does not list object versions"
		return vc, nil
	}
	status, err := vr.Versioning(ctx)
	if err != nil {
		return vc, fmt.Errorf("read the bucket's versioning: %w", err)
	}
	switch status {
	case "Enabled":
	case "Suspended":
		vc.warning = "versioning is suspended on the bucket: a deletion from now on may leave no trace (object lock keeps it enabled)"
	default:
		vc.warning = "deletions not checked: the bucket has no versioning, so a deleted object leaves no trace " +
			"(create it with object lock, which keeps versions, and check the head you were handed with -expect)"
		return vc, nil
	}
	vc.checked = true
	var checkpointSeqs []uint64 // every checkpoint ever written, hidden ones included
	for _, prefix := range []string{TenantPrefix(tenant), CheckpointPrefix(tenant)} {
		versions, err := vr.ListVersions(ctx, prefix)
		if err != nil {
			return vc, fmt.Errorf("list versions under %s: %w", prefix, err)
		}
		for group := range groupByKey(versions) {
			key := group[0].Key
			if _, seq, ok := parseCheckpointKey(key); ok {
				checkpointSeqs = append(checkpointSeqs, seq)
			}
			short, what, err := versionTrouble(ctx, vr, group)
			if err != nil {
				return vc, err
			}
			if what != "" {
				vc.tampered = append(vc.tampered, tampered{key: key, short: short, what: what})
			}
		}
	}
	// A hidden object makes its own seqs untrustworthy; a hidden checkpoint
	// the seqs after the checkpoint before it.
	slices.Sort(checkpointSeqs)
	for i, t := range vc.tampered {
		if k, ok := ParseKey(t.key); ok && k.Tenant == tenant {
			vc.tampered[i].seq = k.First
		} else if t2, seq, ok := parseCheckpointKey(t.key); ok && t2 == tenant {
			j, _ := slices.BinarySearch(checkpointSeqs, seq)
			vc.tampered[i].seq = 1
			if j > 0 {
				vc.tampered[i].seq = checkpointSeqs[j-1] + 1
			}
		}
	}
	slices.SortStableFunc(vc.tampered, func(a, b tampered) int { return cmp.Compare(a.seq, b.seq) })
	return vc, nil
}

// groupByKey yields the runs of versions of one key.
func groupByKey(versions []objectstore.Version) func(yield func([]objectstore.Version) bool) {
	return func(yield func([]objectstore.Version) bool) {
		for start := 0; start < len(versions); {
			end := start + 1
			for end < len(versions) && versions[end].Key == versions[start].Key {
				end++
			}
			if !yield(versions[start:end]) {
				return
			}
			start = end
		}
	}
}

// versionTrouble says what is wrong with one key's versions (latest
// first), in a word and in a sentence, or "", "".
func versionTrouble(ctx context.Context, vr VersionReader, group []objectstore.Version) (short, what string, err error) {
	var latest *objectstore.Version // the latest version holding data
	var markers []objectstore.Version
	for i, v := range group {
		switch {
		case v.DeleteMarker:
			markers = append(markers, v)
		case latest == nil:
			latest = &group[i]
		}
	}
	if len(markers) > 0 {
		m := markers[0]
		switch {
		case m.Latest && latest != nil:
			return "deleted", fmt.Sprintf("deleted: a delete marker of %s (version %s) hides it; its data is in version %s",
				stamp(m.LastModified), m.VersionID, latest.VersionID), nil
		case m.Latest:
			return "delete marker", fmt.Sprintf("a delete marker of %s (version %s) on a key that holds no data",
				stamp(m.LastModified), m.VersionID), nil
		default:
			return "deleted and written again", fmt.Sprintf("deleted and written again: a delete marker of %s (version %s) lies under its latest version",
				stamp(m.LastModified), m.VersionID), nil
		}
	}
	if latest == nil || !latest.Latest {
		return "", "", nil // no data, or (impossible without a marker) data that is not latest
	}
	var body []byte
	for _, v := range group {
		if v.DeleteMarker || v.VersionID == latest.VersionID || (v.ETag != "" && v.ETag == latest.ETag) {
			continue
		}
		// Entity tags differ with encryption as well as with the bytes:
		// compare the bytes.
		if body == nil {
			b, err := vr.GetVersion(ctx, latest.Key, latest.VersionID)
			if err != nil {
				return "", "", fmt.Errorf("read %s version %s: %w", latest.Key, latest.VersionID, err)
			}
			body = b
		}
		old, err := vr.GetVersion(ctx, v.Key, v.VersionID)
		if err != nil {
			return "", "", fmt.Errorf("read %s version %s: %w", v.Key, v.VersionID, err)
		}
		if !bytes.Equal(old, body) {
			return "overwritten", fmt.Sprintf("overwritten: its latest version %s of %s holds other bytes than version %s of %s",
				latest.VersionID, stamp(latest.LastModified), v.VersionID, stamp(v.LastModified)), nil
		}
	}
	return "", "", nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// versionBreak is the BreakError of the keys vc found tampered with: it
// names the first, and the reason lists up to maxNamedKeys of the others.
func (vc versionCheck) versionBreak() *BreakError {
	if len(vc.tampered) == 0 {
		return nil
	}
	first := vc.tampered[0]
	reason := first.what
	if rest := vc.tampered[1:]; len(rest) > 0 {
		var others []string
		for _, t := range rest[:min(len(rest), maxNamedKeys)] {
			others = append(others, t.key+" ("+t.short+")")
		}
		reason += fmt.Sprintf("; %d more keys tampered with: %s", len(rest), strings.Join(others, ", "))
		if len(rest) > maxNamedKeys {
			reason += ", …"
		}
	}
	return &BreakError{Seq: first.seq, Object: first.key, Reason: reason}
}
