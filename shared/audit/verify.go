package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
)

// ObjectReader reads the archive.
type ObjectReader interface {
	List(ctx context.Context, prefix string) ([]string, error)
	Get(ctx context.Context, key string) ([]byte, error)
}

// Report summarises a verified archive.
type Report struct {
	TenantID   string         `json:"tenantId"`
	Objects    int            `json:"objects"`
	Events     uint64         `json:"events"`
	FirstTime  string         `json:"firstTime,omitempty"`
	LastTime   string         `json:"lastTime,omitempty"`
	Operations map[string]int `json:"operations"`
	LastHash   string         `json:"lastHash,omitempty"`
}

// BreakError says where an archive stops being trustworthy.
type BreakError struct {
	Seq    uint64 // the first seq that cannot be trusted
	Object string // the object it is in, or should be in
	Reason string
}

func (e *BreakError) Error() string {
	return fmt.Sprintf("seq %d in %s: %s", e.Seq, e.Object, e.Reason)
}

// Verify reads every object of tenant and checks the key layout, seq
// continuity from 1 across objects and the hash chain. It returns a
// *BreakError naming the first broken seq and object when anything was
// altered, removed, added or reordered.
func Verify(ctx context.Context, r ObjectReader, tenant string) (Report, error) {
	rep := Report{TenantID: tenant, Operations: map[string]int{}}
	names, err := r.List(ctx, TenantPrefix(tenant))
	if err != nil {
		return rep, fmt.Errorf("list %s: %w", TenantPrefix(tenant), err)
	}
	keys := make([]Key, 0, len(names))
	byKey := map[Key]string{}
	for _, n := range names {
		k, ok := ParseKey(n)
		if !ok || k.Tenant != tenant {
			return rep, &BreakError{Object: n, Reason: "object name does not follow the archive layout"}
		}
		keys = append(keys, k)
		byKey[k] = n
	}
	slices.SortFunc(keys, func(a, b Key) int { return cmp.Compare(a.First, b.First) })

	want, prev := uint64(1), ZeroHash
	for _, k := range keys {
		name := byKey[k]
		if k.First != want {
			return rep, &BreakError{Seq: want, Object: name, Reason: fmt.Sprintf("object starts at seq %d, expected %d (objects missing, duplicated or renamed)", k.First, want)}
		}
		body, err := r.Get(ctx, name)
		if err != nil {
			return rep, fmt.Errorf("read %s: %w", name, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			var rec Record
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.DisallowUnknownFields()
			switch {
			case dec.Decode(&rec) != nil:
				return rep, &BreakError{Seq: want, Object: name, Reason: "line is not an audit record"}
			case rec.Seq != want:
				return rep, &BreakError{Seq: want, Object: name, Reason: fmt.Sprintf("found seq %d", rec.Seq)}
			case !bytes.Equal(line, rec.Canonical()):
				return rep, &BreakError{Seq: want, Object: name, Reason: "line is not in canonical form (edited)"}
			case rec.TenantID != tenant || len(rec.Time) < 10 || rec.Date() != k.Date:
				return rep, &BreakError{Seq: want, Object: name, Reason: "tenant or date does not match the object's partition"}
			case rec.PrevHash != prev:
				return rep, &BreakError{Seq: want, Object: name, Reason: "prevHash does not match the previous event's hash"}
			case rec.Hash != rec.ComputeHash():
				return rep, &BreakError{Seq: want, Object: name, Reason: "hash does not match the event (edited)"}
			}
			if rep.FirstTime == "" {
				rep.FirstTime = rec.Time
			}
			rep.LastTime = rec.Time
			rep.Operations[rec.OperationName]++
			rep.Events++
			want, prev = want+1, rec.Hash
		}
		if err := sc.Err(); err != nil {
			return rep, &BreakError{Seq: want, Object: name, Reason: err.Error()}
		}
		if want-1 != k.Last {
			return rep, &BreakError{Seq: want, Object: name, Reason: fmt.Sprintf("object name says it ends at seq %d, its lines end at %d", k.Last, want-1)}
		}
		rep.Objects++
	}
	rep.LastHash = prev
	return rep, nil
}
