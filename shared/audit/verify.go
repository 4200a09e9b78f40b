package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ObjectReader reads the archive.
type ObjectReader interface {
	List(ctx context.Context, prefix string) ([]string, error)
	Get(ctx context.Context, key string) ([]byte, error)
}

// Report summarises a verified archive. When Verify finds the archive
// broken, it describes the events before the first seq that cannot be
// trusted.
type Report struct {
	TenantID   string         `json:"tenantId"`
	Objects    int            `json:"objects"`
	Events     uint64         `json:"events"`
	FirstTime  string         `json:"firstTime,omitempty"`
	LastTime   string         `json:"lastTime,omitempty"`
	Operations map[string]int `json:"operations"`
	LastHash   string         `json:"lastHash,omitempty"`
	// Checkpoints is how many signed checkpoints were verified against the
	// chain; CheckpointSeq, CheckpointTime and KeyID describe the newest.
	Checkpoints    int    `json:"checkpoints"`
	CheckpointSeq  uint64 `json:"checkpointSeq,omitempty"`
	CheckpointTime string `json:"checkpointTime,omitempty"`
	KeyID          string `json:"keyId,omitempty"`
	// DeletionsChecked is true when the versions of every object and
	// checkpoint were read (a versioned bucket): a deleted or overwritten
	// one is then reported. Warnings say what could not be checked.
	DeletionsChecked bool     `json:"deletionsChecked"`
	Warnings         []string `json:"warnings,omitempty"`
	// ExpectedSeq is the seq of the head the archive was held to (see
	// Verifier.Expect), 0 when none.
	ExpectedSeq uint64 `json:"expectedSeq,omitempty"`
}

// BreakError says where an archive stops being trustworthy.
type BreakError struct {
	Seq    uint64 // the first seq that cannot be trusted
	Object string // the object it is in, or should be in (or the checkpoint at fault)
	Reason string
}

func (e *BreakError) Error() string {
	return fmt.Sprintf("seq %d in %s: %s", e.Seq, e.Object, e.Reason)
}

// Verify is Verifier{Keys: keys}.Verify: it checks tenant's archive against
// the checkpoints signed with any of keys.
func Verify(ctx context.Context, r ObjectReader, tenant string, keys ...ed25519.PublicKey) (Report, error) {
	return Verifier{Keys: keys}.Verify(ctx, r, tenant)
}

// Verifier checks a tenant's archive (see Verifier.Verify).
type Verifier struct {
	// Keys are the public keys the checkpoints may be signed with (several
	// during a key rotation); at least one.
	Keys []ed25519.PublicKey
	// Expect, when its Seq is not 0, is a head the tenant was handed (a
	// signed checkpoint, see Head): the archive must reach it, with its
	// hash at its seq.
	Expect ExpectedHead
	// Check, when set, is asked about every record whose place in the
	// chain verified, in seq order; an error breaks the archive at that
	// record with the error as the reason (auditverify -passkeys checks
	// the passkey signatures of decisions this way).
	Check func(Record) error
}

// ExpectedHead is a seq and the hash of the event at that seq.
type ExpectedHead struct {
	Seq  uint64
	Hash string
}

// ParseExpectedHead parses "<seq>:<hash>" (the hash as 64 lower-case hex
// characters).
func ParseExpectedHead(s string) (ExpectedHead, error) {
	seqText, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if !ok || err != nil || seq == 0 || !hashPattern.MatchString(hash) {
		return ExpectedHead{}, fmt.Errorf("expected head %q: want <seq>:<hash>, a seq from 1 and 64 lower-case hex characters", s)
	}
	return ExpectedHead{Seq: seq, Hash: hash}, nil
}

// Verify reads every object and every checkpoint of tenant. It checks the
// key layout, seq continuity from 1 across objects, that each line is
// canonical and in its object's partition, and the hash chain; and that the
// chain is covered by signed checkpoints: each checkpoint must be signed by
// one of keys (several during a key rotation), be the tenant's, and match
// the chain (hash and time at its seq, its objects present); no event may
// follow the newest checkpoint, and the archive must reach it.
//
// It returns a *BreakError naming the first seq that cannot be trusted, and
// the object it is in (or the checkpoint at fault), when anything was
// altered, removed, added or reordered:
//   - a break in the chain names the seq where it shows;
//   - a checkpoint that does not verify, or that the chain does not match
//     (the tail rewritten and re-chained), names the first seq after the
//     last checkpoint that did;
//   - an archive shorter than its newest checkpoint (objects deleted from
//     the end) names the first missing seq;
//   - events after the newest checkpoint, or objects and no checkpoint at
//     all, name the first seq not covered.
//
// An empty archive without checkpoints verifies: nothing was exported.
//
// Whole newest batches deleted together with their checkpoints leave an
// archive and checkpoints that agree, only shorter (a rollback to an
// earlier checkpoint). Two checks see it:
//   - on a versioned bucket (every bucket with object lock is one) a delete
//     only adds a delete marker: when r is a VersionReader, the versions of
//     every object and checkpoint are read, and a delete marker, or a latest
//     version with other bytes than an earlier one, names the first seq the
//     key holds (for a checkpoint, the first after the checkpoint before it)
//     and the key. On a bucket without versioning the report carries a
//     warning instead, and the rest is checked as listed;
//   - with vf.Expect, an archive that ends before the expected head, or
//     whose event at its seq has another hash, names the first seq missing
//     (or that seq): a tenant holding a head it was handed sees the tail
//     deleted even when its versions are gone too.
func (vf Verifier) Verify(ctx context.Context, r ObjectReader, tenant string) (Report, error) {
	v := &verification{ctx: ctx, r: r, tenant: tenant, keys: map[string]ed25519.PublicKey{}, archive: map[string]bool{},
		rep: Report{TenantID: tenant, Operations: map[string]int{}, ExpectedSeq: vf.Expect.Seq}, expect: vf.Expect, check: vf.Check}
	v.trusted = v.rep
	v.trusted.Operations = map[string]int{}
	if len(vf.Keys) == 0 {
		return v.rep, errors.New("verify: no public key to check the checkpoints with")
	}
	for i, k := range vf.Keys {
		if len(k) != ed25519.PublicKeySize {
			return v.rep, fmt.Errorf("verify: public key %d is not an Ed25519 public key", i+1)
		}
		v.keys[KeyID(k)] = k
	}
	if vf.Expect.Seq != 0 && !hashPattern.MatchString(vf.Expect.Hash) {
		return v.rep, errors.New("verify: the expected head's hash is not 64 lower-case hex characters")
	}
	vc, err := checkVersions(ctx, r, tenant)
	if err != nil {
		return v.rep, err
	}
	v.hidden = vc.versionBreak()
	for _, rep := range []*Report{&v.rep, &v.trusted} {
		rep.DeletionsChecked = vc.checked
		if vc.warning != "" {
			rep.Warnings = []string{vc.warning}
		}
	}

	names, err := r.List(ctx, TenantPrefix(tenant))
	if err != nil {
		return v.rep, fmt.Errorf("list %s: %w", TenantPrefix(tenant), err)
	}
	objects := make([]Key, 0, len(names))
	byKey := map[Key]string{}
	for _, n := range names {
		k, ok := ParseKey(n)
		if !ok || k.Tenant != tenant {
			return v.rep, &BreakError{Object: n, Reason: "object name does not follow the archive layout"}
		}
		objects = append(objects, k)
		byKey[k] = n
		v.archive[n] = true
	}
	slices.SortFunc(objects, func(a, b Key) int { return cmp.Compare(a.First, b.First) })

	cpNames, err := r.List(ctx, CheckpointPrefix(tenant))
	if err != nil {
		return v.rep, fmt.Errorf("list %s: %w", CheckpointPrefix(tenant), err)
	}
	for _, n := range cpNames {
		t, seq, ok := parseCheckpointKey(n)
		if !ok || t != tenant {
			return v.rep, &BreakError{Object: n, Reason: "object name does not follow the checkpoint layout"}
		}
		v.checkpoints = append(v.checkpoints, checkpointRef{seq: seq, key: n})
	}
	slices.SortFunc(v.checkpoints, func(a, b checkpointRef) int { return cmp.Compare(a.seq, b.seq) })
	newest := uint64(0)
	if len(v.checkpoints) > 0 {
		newest = v.checkpoints[len(v.checkpoints)-1].seq
	}
	end := uint64(0) // where the objects' names say the archive ends
	if len(objects) > 0 {
		end = objects[len(objects)-1].Last
	}

	want, prev := uint64(1), ZeroHash
	for _, k := range objects {
		name := byKey[k]
		if v.hidden != nil && want >= v.hidden.Seq {
			return v.rep, v.hidden
		}
		if k.First != want {
			return v.rep, &BreakError{Seq: want, Object: name, Reason: fmt.Sprintf("object starts at seq %d, expected %d (objects missing, duplicated or renamed)", k.First, want)}
		}
		if k.First == v.trusted.Events+1 {
			v.trustedObject = name
		}
		// Checkpoints are checked where objects end: past the newest, the
		// rest of the archive is not vouched for.
		if v.next == len(v.checkpoints) && k.First > newest {
			return v.trusted, &BreakError{Seq: want, Object: name, Reason: v.uncovered(end)}
		}
		body, err := r.Get(ctx, name)
		if err != nil {
			return v.rep, fmt.Errorf("read %s: %w", name, err)
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
				return v.rep, &BreakError{Seq: want, Object: name, Reason: "line is not an audit record"}
			case rec.Seq != want:
				return v.rep, &BreakError{Seq: want, Object: name, Reason: fmt.Sprintf("found seq %d", rec.Seq)}
			case !bytes.Equal(line, rec.Canonical()):
				return v.rep, &BreakError{Seq: want, Object: name, Reason: "line is not in canonical form (edited)"}
			case rec.TenantID != tenant || len(rec.Time) < 10 || rec.Date() != k.Date:
				return v.rep, &BreakError{Seq: want, Object: name, Reason: "tenant or date does not match the object's partition"}
			case rec.PrevHash != prev:
				return v.rep, &BreakError{Seq: want, Object: name, Reason: "prevHash does not match the previous event's hash"}
			case rec.Hash != rec.ComputeHash():
				return v.rep, &BreakError{Seq: want, Object: name, Reason: "hash does not match the event (edited)"}
			case rec.Seq == v.expect.Seq && rec.Hash != v.expect.Hash:
				return v.rep, &BreakError{Seq: want, Object: name, Reason: fmt.Sprintf(
					"seq %d has hash %s, the head you hold says %s (not this archive, or rewritten)", want, rec.Hash, v.expect.Hash)}
			}
			if v.check != nil {
				if err := v.check(rec); err != nil {
					return v.rep, &BreakError{Seq: want, Object: name, Reason: err.Error()}
				}
			}
			if v.rep.FirstTime == "" {
				v.rep.FirstTime = rec.Time
			}
			v.rep.LastTime = rec.Time
			v.rep.Operations[rec.OperationName]++
			v.rep.Events++
			v.rep.LastHash = rec.Hash
			want, prev = want+1, rec.Hash
		}
		if err := sc.Err(); err != nil {
			return v.rep, &BreakError{Seq: want, Object: name, Reason: err.Error()}
		}
		if want-1 != k.Last {
			return v.rep, &BreakError{Seq: want, Object: name, Reason: fmt.Sprintf("object name says it ends at seq %d, its lines end at %d", k.Last, want-1)}
		}
		v.rep.Objects++
		// Checkpoints fall where a batch, and so an object, ends.
		for v.next < len(v.checkpoints) && v.checkpoints[v.next].seq <= k.Last {
			if err := v.reached(k, name); err != nil {
				return v.trusted, err
			}
		}
	}
	if v.hidden != nil {
		return v.rep, v.hidden
	}
	if v.next < len(v.checkpoints) {
		return v.truncated(want - 1)
	}
	if last := want - 1; last < v.expect.Seq {
		return v.rep, &BreakError{Seq: want, Object: CheckpointKey(tenant, v.expect.Seq), Reason: fmt.Sprintf(
			"archive ends at seq %d but the head you hold is at seq %d (hash %s): events deleted from the end", last, v.expect.Seq, v.expect.Hash)}
	}
	v.rep.LastHash = prev
	return v.rep, nil
}

// checkpointRef is a checkpoint as listed.
type checkpointRef struct {
	seq uint64
	key string
}

// verification is the state of one Verify.
type verification struct {
	ctx         context.Context
	r           ObjectReader
	tenant      string
	keys        map[string]ed25519.PublicKey // by key id
	archive     map[string]bool              // the archive's object keys
	checkpoints []checkpointRef              // in seq order
	next        int                          // the first checkpoint the chain has not reached
	expect      ExpectedHead
	check       func(Record) error
	hidden      *BreakError // the first key a listing of versions shows tampered with

	rep Report // what has been read so far
	// trusted is rep as of the last checkpoint that verified, and
	// trustedObject the object holding the seq after it.
	trusted       Report
	trustedObject string
}

// reached checks the next checkpoint once the chain has read the object k
// (name), which holds the checkpoint's seq, and makes everything up to it
// trusted.
func (v *verification) reached(k Key, name string) error {
	ref := v.checkpoints[v.next]
	c, err := v.load(ref)
	if err != nil {
		return err
	}
	from := v.trusted.Events + 1
	if c.Seq != k.Last {
		return &BreakError{Seq: from, Object: name, Reason: fmt.Sprintf(
			"the signed checkpoint of %s (%s) says an object ends at seq %d, this object holds seqs %d..%d (objects merged or renamed)",
			c.Time, ref.key, c.Seq, k.First, k.Last)}
	}
	if c.Hash != v.rep.LastHash || c.Time != v.rep.LastTime {
		return &BreakError{Seq: from, Object: v.trustedObject, Reason: fmt.Sprintf(
			"seqs %d..%d do not match the signed checkpoint of %s (%s): seq %d has hash %s at %s, the checkpoint says %s at %s (rewritten)",
			from, c.Seq, c.Time, ref.key, c.Seq, v.rep.LastHash, v.rep.LastTime, c.Hash, c.Time)}
	}
	for _, o := range c.Objects {
		if !v.archive[o] {
			return &BreakError{Seq: from, Object: o, Reason: fmt.Sprintf("object named by the signed checkpoint of %s (%s) is not in the archive", c.Time, ref.key)}
		}
	}
	v.next++
	v.rep.Checkpoints++
	v.rep.CheckpointSeq, v.rep.CheckpointTime, v.rep.KeyID = c.Seq, c.Time, c.KeyID
	v.trusted = v.rep
	v.trusted.Operations = maps.Clone(v.rep.Operations)
	return nil
}

// truncated explains an archive that ends at seq last, before the newest
// checkpoint.
func (v *verification) truncated(last uint64) (Report, error) {
	newestRef := v.checkpoints[len(v.checkpoints)-1]
	newest, err := v.load(newestRef)
	if err != nil {
		return v.trusted, err
	}
	// The first checkpoint past the end names the object that should
	// follow it.
	missing, cover := newestRef.key, newest
	if ref := v.checkpoints[v.next]; ref != newestRef {
		if cover, err = v.load(ref); err != nil {
			return v.trusted, err
		}
	}
	for _, o := range cover.Objects {
		if k, _ := ParseKey(o); k.First <= last+1 && last+1 <= k.Last {
			missing = o
		}
	}
	return v.rep, &BreakError{Seq: last + 1, Object: missing, Reason: fmt.Sprintf(
		"archive ends at seq %d but the signed checkpoint of %s says %d (objects deleted from the end)", last, newest.Time, newest.Seq)}
}

// uncovered says why events after the newest checkpoint are refused.
func (v *verification) uncovered(end uint64) string {
	if v.rep.Checkpoints == 0 {
		return fmt.Sprintf("not covered by a signed checkpoint: the archive's objects reach seq %d and there is no checkpoint under %s",
			end, CheckpointPrefix(v.tenant))
	}
	return fmt.Sprintf("not covered by a signed checkpoint: the newest, of %s, ends at seq %d and the archive's objects reach seq %d",
		v.rep.CheckpointTime, v.rep.CheckpointSeq, end)
}

// load reads a checkpoint and checks it: its form, its signature by one of
// the keys, its tenant and its seq. A checkpoint at fault is a *BreakError
// naming it (and the first seq after the last trusted checkpoint); failing
// to read it is another error.
func (v *verification) load(ref checkpointRef) (Checkpoint, error) {
	body, err := v.r.Get(v.ctx, ref.key)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("read %s: %w", ref.key, err)
	}
	broken := func(reason string) error {
		return &BreakError{Seq: v.trusted.Events + 1, Object: ref.key, Reason: reason}
	}
	c, err := parseCheckpoint(body)
	if err != nil {
		return Checkpoint{}, broken(err.Error())
	}
	pub, ok := v.keys[c.KeyID]
	if !ok {
		return Checkpoint{}, broken(fmt.Sprintf("checkpoint is signed with key %s, not with %s", c.KeyID, v.keyIDs()))
	}
	if err := c.verifySignature(pub); err != nil {
		return Checkpoint{}, broken(err.Error())
	}
	switch {
	case c.TenantID != v.tenant:
		return Checkpoint{}, broken(fmt.Sprintf("checkpoint of tenant %s, not of %s (copied from another tenant)", c.TenantID, v.tenant))
	case c.Seq != ref.seq:
		return Checkpoint{}, broken(fmt.Sprintf("checkpoint name says seq %d, the checkpoint says %d (renamed)", ref.seq, c.Seq))
	}
	return c, nil
}

// keyIDs lists the verifier's key ids.
func (v *verification) keyIDs() string {
	ids := slices.Sorted(maps.Keys(v.keys))
	if len(ids) == 1 {
		return "key " + ids[0]
	}
	return "any of keys " + strings.Join(ids, ", ")
}
