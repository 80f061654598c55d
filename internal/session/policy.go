package session

import (
	"slices"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
)

// Policy is an app's multi-client login policy with its per-platform
// instance limits.
type Policy struct {
	Policy imkit.LoginPolicy
	// Limit returns how many instances of a platform may be online at once;
	// nil allows 1. Admit keeps the answer within 1..p.MaxInstances().
	Limit func(imkit.Platform) int
}

// PolicyOf returns the policy of an app.
func PolicyOf(a *store.App) Policy {
	return Policy{Policy: a.Policy, Limit: a.Limit}
}

// Admit decides which of a user's active sessions (oldest first) a new login
// ends. It is the only place the login policy is decided; Store.Login calls it
// inside the login's transaction, so that it is applied atomically per user.
//
// The new login always succeeds; what stays online beside it is what the
// policy allows, newest first. Going from the newest active session to the
// oldest, a session is ended
//   - as KickMultiInstance when it is of the same SDK instance (same
//     InstanceID): that instance has started over;
//   - as KickMultiDevice when its platform may not be online together with
//     one that stays (the new login's, or a newer session's);
//   - as KickMultiInstance when its platform already has as many instances
//     staying as its limit allows (1 under PolicySingle).
//
// From a state the policy allows, that ends exactly the sessions in conflict
// with the new login, the oldest first. From one it does not (the policy was
// just made stricter), it also ends the older of the sessions in conflict
// with each other, so that after any login the policy holds.
func (p Policy) Admit(active []store.Session, s *store.Session, kick store.Kick) []store.Kicked {
	var staying [imkit.PlatformWeb + 1]int // by platform
	if s.Platform.Valid() {                // Login has checked it
		staying[s.Platform] = 1
	}
	var out []store.Kicked
	for i := len(active) - 1; i >= 0; i-- {
		a := &active[i]
		reason := imkit.KickUnknown
		switch {
		case a.InstanceID == s.InstanceID:
			reason = imkit.KickMultiInstance
		case !a.Platform.Valid():
			reason = imkit.KickMultiDevice // cannot happen: logins check it
		case p.conflictsWith(staying[:], a.Platform):
			reason = imkit.KickMultiDevice
		case staying[a.Platform] >= p.limit(a.Platform):
			reason = imkit.KickMultiInstance
		}
		if reason == imkit.KickUnknown {
			staying[a.Platform]++
			continue
		}
		k := kick
		k.Reason = reason
		out = append(out, store.Kicked{SessionID: a.ID, Kick: k})
	}
	slices.Reverse(out) // oldest first, like active
	return out
}

// conflictsWith reports whether an instance on platform pl may not be online
// beside the staying ones (counted by platform).
func (p Policy) conflictsWith(staying []int, pl imkit.Platform) bool {
	for q, n := range staying {
		if n > 0 && imkit.Platform(q) != pl && p.conflict(imkit.Platform(q), pl) {
			return true
		}
	}
	return false
}

// limit returns how many instances of platform pl may be online at once:
// 1 under PolicySingle, else the app's limit within 1..pl.MaxInstances(). A
// stored limit out of range (from an older version, or set by hand) must not
// let more in than Tencent allows, nor lock everyone out.
func (p Policy) limit(pl imkit.Platform) int {
	if p.Policy == imkit.PolicySingle || p.Limit == nil {
		return 1
	}
	return min(max(p.Limit(pl), 1), pl.MaxInstances())
}

// conflict reports whether sessions on platforms a and b (a != b) may not be
// online together under the policy.
func (p Policy) conflict(a, b imkit.Platform) bool {
	switch p.Policy {
	case imkit.PolicySingle:
		return true
	case imkit.PolicyMulti:
		return false
	case imkit.PolicyTriple:
		// One mobile, one desktop, plus Web: only two different platforms of
		// the same class conflict.
		return a.Class() == b.Class() && a.Class() != imkit.ClassWeb
	default: // PolicyDual
		// One native platform plus Web: any two native platforms conflict.
		return a.Class() != imkit.ClassWeb && b.Class() != imkit.ClassWeb
	}
}
