package session_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/session"
	"github.com/imkit/imkit/internal/store"
)

var (
	android = imkit.PlatformAndroid
	iphone  = imkit.PlatformIPhone
	ipad    = imkit.PlatformIPad
	windows = imkit.PlatformWindows
	mac     = imkit.PlatformMac
	linux   = imkit.PlatformLinux
	web     = imkit.PlatformWeb

	single = imkit.PolicySingle
	dual   = imkit.PolicyDual
	triple = imkit.PolicyTriple
	multi  = imkit.PolicyMulti
)

var kickAt = time.UnixMilli(1_760_000_000_000).UTC()

// sessions returns active sessions on the platforms, oldest first, named
// "s1", "s2", ... with instances "i1", "i2", ...
func sessions(ps ...imkit.Platform) []store.Session {
	out := make([]store.Session, len(ps))
	for i, p := range ps {
		out[i] = store.Session{
			ID: fmt.Sprintf("s%d", i+1), App: 1, UserID: "u", Platform: p,
			InstanceID: fmt.Sprintf("i%d", i+1), LoginAt: kickAt.Add(time.Duration(i-len(ps)) * time.Second),
			State: store.SessionActive,
		}
	}
	return out
}

// admit runs Policy.Admit for a new login on platform p (instance "new") and
// returns the kicked sessions as "id:reason".
func admit(pol session.Policy, active []store.Session, p imkit.Platform) []string {
	s := &store.Session{ID: "new", App: 1, UserID: "u", Platform: p, InstanceID: "new", LoginAt: kickAt}
	var out []string
	for _, k := range pol.Admit(active, s, store.Kick{Platform: p, At: kickAt}) {
		if k.Kick.Platform != p || !k.Kick.At.Equal(kickAt) {
			panic(fmt.Sprintf("kick of %s says platform %v at %v, want %v at %v", k.SessionID, k.Kick.Platform, k.Kick.At, p, kickAt))
		}
		out = append(out, k.SessionID+":"+k.Kick.Reason.String())
	}
	return out
}

func limits(m map[imkit.Platform]int) func(imkit.Platform) int {
	return func(p imkit.Platform) int {
		if n, ok := m[p]; ok {
			return n
		}
		return 1
	}
}

// together says which classes of two different platforms may be online at
// once, as DESIGN.md words each policy.
var together = map[imkit.LoginPolicy]map[[2]imkit.PlatformClass]bool{
	single: {},
	dual: {
		// "one of Android/iPhone/iPad/Windows/macOS/Linux, plus Web"
		{imkit.ClassMobile, imkit.ClassWeb}: true, {imkit.ClassDesktop, imkit.ClassWeb}: true,
	},
	triple: {
		// "one mobile, one desktop, plus Web"
		{imkit.ClassMobile, imkit.ClassWeb}: true, {imkit.ClassDesktop, imkit.ClassWeb}: true,
		{imkit.ClassMobile, imkit.ClassDesktop}: true,
	},
	multi: {
		{imkit.ClassMobile, imkit.ClassWeb}: true, {imkit.ClassDesktop, imkit.ClassWeb}: true,
		{imkit.ClassMobile, imkit.ClassDesktop}: true, {imkit.ClassMobile, imkit.ClassMobile}: true,
		{imkit.ClassDesktop, imkit.ClassDesktop}: true,
	},
}

func allowedTogether(pol imkit.LoginPolicy, a, b imkit.Platform) bool {
	ca, cb := a.Class(), b.Class()
	return together[pol][[2]imkit.PlatformClass{ca, cb}] || together[pol][[2]imkit.PlatformClass{cb, ca}]
}

// TestAdmitEveryPair: one instance online on one platform, a login on
// another (or the same): under each policy, the new one stays and the old one
// is kicked exactly when the policy does not allow both, with multi-device
// for another platform and multi-instance for the same one.
func TestAdmitEveryPair(t *testing.T) {
	for _, pol := range []imkit.LoginPolicy{single, dual, triple, multi} {
		for _, old := range imkit.Platforms {
			for _, p := range imkit.Platforms {
				var want []string
				switch {
				case old == p:
					want = []string{"s1:multi-instance"} // limit 1
				case !allowedTogether(pol, old, p):
					want = []string{"s1:multi-device"}
				}
				got := admit(session.Policy{Policy: pol}, sessions(old), p)
				if !cmp.Equal(got, want) {
					t.Errorf("%s: %v online, login on %v: kicked %v, want %v", pol, old, p, got, want)
				}
			}
		}
	}
}

// TestAdmitTable spells out the notable cases.
func TestAdmitTable(t *testing.T) {
	tests := []struct {
		name   string
		policy imkit.LoginPolicy
		limits map[imkit.Platform]int
		active []imkit.Platform
		login  imkit.Platform
		want   []string
	}{
		{"first login", dual, nil, nil, android, nil},
		{"single: everything goes", single, nil, []imkit.Platform{android, web, windows}, iphone,
			[]string{"s1:multi-device", "s2:multi-device", "s3:multi-device"}},
		{"single: same platform is multi-instance", single, nil, []imkit.Platform{web, android}, android,
			[]string{"s1:multi-device", "s2:multi-instance"}},
		{"single ignores per-platform limits", single, map[imkit.Platform]int{android: 3}, []imkit.Platform{android, android}, android,
			[]string{"s1:multi-instance", "s2:multi-instance"}},
		{"dual: phone and web stay with desktop login? no: desktop kicks phone", dual, nil, []imkit.Platform{android, web}, mac,
			[]string{"s1:multi-device"}},
		{"dual: web beside a native", dual, nil, []imkit.Platform{android}, web, nil},
		{"dual: second web kicks the first", dual, nil, []imkit.Platform{android, web}, web,
			[]string{"s2:multi-instance"}},
		{"dual: iPad kicks iPhone", dual, nil, []imkit.Platform{iphone}, ipad, []string{"s1:multi-device"}},
		{"triple: one mobile, one desktop, web", triple, nil, []imkit.Platform{android, windows}, web, nil},
		{"triple: Linux kicks Windows only", triple, nil, []imkit.Platform{android, windows, web}, linux,
			[]string{"s2:multi-device"}},
		{"triple: iPad kicks Android only", triple, nil, []imkit.Platform{android, linux, web}, ipad,
			[]string{"s1:multi-device"}},
		{"multi: every platform at once", multi, nil, []imkit.Platform{android, iphone, ipad, windows, mac, linux}, web, nil},
		{"multi: same platform over its limit", multi, nil, []imkit.Platform{android, iphone, android}, android,
			[]string{"s1:multi-instance", "s3:multi-instance"}},
		{"multi: per-platform limits", multi, map[imkit.Platform]int{android: 2, web: 3},
			[]imkit.Platform{android, web, android, web, web}, web, []string{"s2:multi-instance"}},
		{"dual with 3 Androids: a fourth kicks the oldest", dual, map[imkit.Platform]int{android: 3},
			[]imkit.Platform{android, web, android, android}, android, []string{"s1:multi-instance"}},
		{"dual with 3 Androids: an iPhone kicks all three", dual, map[imkit.Platform]int{android: 3},
			[]imkit.Platform{android, android, web, android}, iphone,
			[]string{"s1:multi-device", "s2:multi-device", "s4:multi-device"}},
		{"a lowered limit kicks the oldest down to it", multi, map[imkit.Platform]int{web: 2},
			[]imkit.Platform{web, web, web, web}, web,
			[]string{"s1:multi-instance", "s2:multi-instance", "s3:multi-instance"}},
		{"a native limit above 3 counts as 3", multi, map[imkit.Platform]int{mac: 7},
			[]imkit.Platform{mac, mac, mac}, mac, []string{"s1:multi-instance"}},
		{"a Web limit above 10 counts as 10", multi, map[imkit.Platform]int{web: 50},
			[]imkit.Platform{web, web, web, web, web, web, web, web, web, web}, web, []string{"s1:multi-instance"}},
		{"a limit of 0 counts as 1", multi, map[imkit.Platform]int{linux: 0},
			[]imkit.Platform{linux}, linux, []string{"s1:multi-instance"}},
		{"made stricter: the older of two conflicting natives goes too", dual, nil,
			[]imkit.Platform{android, iphone}, web, []string{"s1:multi-device"}},
		{"made stricter: a lowered limit of another platform applies", multi, nil,
			[]imkit.Platform{android, android, android}, web, []string{"s1:multi-instance", "s2:multi-instance"}},
		{"made stricter to single: everything else goes", single, nil,
			[]imkit.Platform{android, windows, web, web}, web,
			[]string{"s1:multi-device", "s2:multi-device", "s3:multi-instance", "s4:multi-instance"}},
		{"an unknown policy is dual", imkit.LoginPolicy(0), nil, []imkit.Platform{android, web}, windows,
			[]string{"s1:multi-device"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := session.Policy{Policy: tt.policy, Limit: limits(tt.limits)}
			got := admit(pol, sessions(tt.active...), tt.login)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("kicked (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAdmitLimits: with n instances of a platform online and a limit of L,
// a new login kicks the n+1-L oldest (none while n < L), as multi-instance,
// for limits 1..3 on every native platform and 1..10 on Web, under every
// policy but single.
func TestAdmitLimits(t *testing.T) {
	for _, pol := range []imkit.LoginPolicy{dual, triple, multi} {
		for _, p := range imkit.Platforms {
			for limit := 1; limit <= p.MaxInstances(); limit++ {
				for n := 0; n <= limit+1; n++ {
					active := make([]imkit.Platform, n)
					for i := range active {
						active[i] = p
					}
					var want []string
					for i := 0; i < n+1-limit; i++ {
						want = append(want, fmt.Sprintf("s%d:multi-instance", i+1))
					}
					got := admit(session.Policy{Policy: pol, Limit: limits(map[imkit.Platform]int{p: limit})}, sessions(active...), p)
					if !cmp.Equal(got, want) {
						t.Errorf("%s, %v limit %d, %d online: kicked %v, want %v", pol, p, limit, n, got, want)
					}
				}
			}
		}
	}
}

// TestAdmitSameInstance: an SDK instance that logs in afresh ends its own
// earlier session, whatever the limits.
func TestAdmitSameInstance(t *testing.T) {
	active := sessions(web, web)
	active[0].InstanceID = "new"
	got := admit(session.Policy{Policy: multi, Limit: limits(map[imkit.Platform]int{web: 10})}, active, web)
	if want := []string{"s1:multi-instance"}; !cmp.Equal(got, want) {
		t.Errorf("kicked %v, want %v", got, want)
	}
}

// TestAdmitRepairs: from any state, even one the policy does not allow (it
// was just made stricter), a session is never named twice, and what stays
// online with the new session fits the policy.
func TestAdmitRepairs(t *testing.T) {
	all := imkit.Platforms
	for _, pol := range []imkit.LoginPolicy{single, dual, triple, multi} {
		// Everything online at once (as after a policy change), then a login
		// on each platform.
		var active []imkit.Platform
		for _, p := range all {
			active = append(active, p, p)
		}
		for _, p := range all {
			lim := map[imkit.Platform]int{}
			for _, q := range all {
				lim[q] = 2
			}
			sess := sessions(active...)
			pol := session.Policy{Policy: pol, Limit: limits(lim)}
			kicked := map[string]bool{}
			newSess := &store.Session{ID: "new", Platform: p, InstanceID: "new"}
			for _, k := range pol.Admit(sess, newSess, store.Kick{Platform: p, At: kickAt}) {
				if kicked[k.SessionID] {
					t.Fatalf("%v, login on %v: %s kicked twice", pol.Policy, p, k.SessionID)
				}
				kicked[k.SessionID] = true
			}
			left := []imkit.Platform{p}
			for _, s := range sess {
				if !kicked[s.ID] {
					left = append(left, s.Platform)
				}
			}
			// Pairwise, what is left may be online together.
			count := map[imkit.Platform]int{}
			for i, a := range left {
				count[a]++
				for _, b := range left[i+1:] {
					if a != b && !allowedTogether(pol.Policy, a, b) {
						t.Errorf("%v, login on %v: %v and %v both left online", pol.Policy, p, a, b)
					}
				}
			}
			for q, n := range count {
				max := 2
				if pol.Policy == single {
					max = 1
				}
				if n > max {
					t.Errorf("%v, login on %v: %d instances of %v left online", pol.Policy, p, n, q)
				}
			}
		}
	}
}
