package session

import (
	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
)

// Policy is an app's multi-client login policy with its per-platform
// instance limits.
type Policy struct {
	Policy imkit.LoginPolicy
	// Limit returns how many instances of a platform may be online at once.
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
// The new login always succeeds. It ends, as KickMultiDevice, every session on
// a platform the policy does not allow beside the new one's, and then, as
// KickMultiInstance, the oldest sessions of the new one's own platform while
// more than its limit would be online. A session of the same SDK instance
// (same InstanceID) is ended as well: that instance has started over.
func (p Policy) Admit(active []store.Session, s *store.Session, kick store.Kick) []store.Kicked {
	var out []store.Kicked
	end := func(sess *store.Session, reason imkit.KickReason) {
		k := kick
		k.Reason = reason
		out = append(out, store.Kicked{SessionID: sess.ID, Kick: k})
	}
	samePlatform := make([]*store.Session, 0, len(active))
	for i := range active {
		a := &active[i]
		switch {
		case a.InstanceID == s.InstanceID:
			end(a, imkit.KickMultiInstance)
		case a.Platform == s.Platform:
			samePlatform = append(samePlatform, a)
		case p.conflict(a.Platform, s.Platform):
			end(a, imkit.KickMultiDevice)
		}
	}
	limit := 1
	if p.Limit != nil {
		limit = p.Limit(s.Platform)
	}
	if p.Policy == imkit.PolicySingle {
		limit = 1
	}
	// The new session takes one place; the oldest go first.
	for i := 0; i < len(samePlatform)+1-limit; i++ {
		end(samePlatform[i], imkit.KickMultiInstance)
	}
	return out
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
