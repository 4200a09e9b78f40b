package redisstore

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"lockbox.dev/shared/lockbox"
)

// refusal turns a script's refusal {"err", code, args...} into the domain's
// error: the one table from script replies to errors. id is the request the
// script was about; now the caller's clock.
func refusal(reply []any, id string, now time.Time) error {
	arg := func(i int) string {
		if i+2 < len(reply) {
			return fmt.Sprint(reply[i+2])
		}
		return ""
	}
	switch arg(-1) {
	case "notfound":
		return lockbox.ErrNotFound(id)
	case "state":
		return lockbox.ErrWrongState(lockbox.Action(arg(0)), lockbox.Status(arg(1)))
	case "own":
		return lockbox.ErrOwnRequest(lockbox.Action(arg(0)))
	case "duration":
		asked, _ := strconv.Atoi(arg(0))
		return lockbox.ErrDurationTooLong(asked)
	case "cap":
		ms, _ := strconv.ParseInt(arg(1), 10, 64)
		return lockbox.ErrCap(lockbox.Cap(arg(0)), time.UnixMilli(ms).Sub(now))
	case "replayed":
		return lockbox.ErrReplayed()
	case "idemReused":
		return lockbox.ErrIdempotencyKeyReused()
	case "twice":
		return lockbox.ErrAlreadyApproved()
	case "twiceReview":
		return lockbox.ErrAlreadyReviewed()
	case "passkey":
		return lockbox.ErrPasskeyRequired()
	case "pkRefused":
		return lockbox.ErrPasskeyRefused(arg(0))
	case "notLive":
		return lockbox.ErrGrantNotLive(lockbox.Status(arg(0)))
	case "locked":
		until := time.Time{}
		if arg(0) != "" {
			until = fromMs(arg(0))
		}
		return lockbox.ErrLockedDown(until)
	case "notLocked":
		return lockbox.ErrNotLockedDown()
	case "breakGlass":
		return lockbox.ErrBreakGlassDenied(arg(0))
	case "notEmergency":
		return lockbox.ErrNotEmergency()
	case "reviewed":
		return lockbox.ErrReviewedBefore(arg(0))
	}
	return lockbox.Internal("script reply", fmt.Errorf("unexpected reply %v", reply))
}

// isRefusal reports whether a script's reply is a refusal.
func isRefusal(reply []any) bool { return len(reply) > 1 && reply[0] == "err" }

// classify turns a Redis failure into a domain error: anything that means the
// store cannot be reached or cannot serve right now is KindUnavailable (503);
// an error reply from a healthy server is a bug (KindInternal).
func classify(op string, err error) error {
	var le *lockbox.Error
	if errors.As(err, &le) {
		return err
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		for _, transient := range []string{"LOADING", "BUSY", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY", "NOREPLICAS", "MOVED", "ASK", "OOM"} {
			if redis.HasErrorPrefix(err, transient) {
				return lockbox.Unavailable(op, err)
			}
		}
		return lockbox.Internal(op, err)
	}
	return lockbox.Unavailable(op, err)
}
