package imkit

import "strings"

// LoginPolicy is an app's multi-client login policy, as in Tencent's console
// ("Login settings"). It decides which platforms of one user may be online at
// the same time; the per-platform instance limit decides how many instances of
// one platform may.
type LoginPolicy uint8

// Login policies. The numeric values are stored and sent on the wire.
const (
	// PolicySingle: one instance online across all platforms.
	PolicySingle LoginPolicy = 1
	// PolicyDual (the default): one native platform (mobile or desktop) plus Web.
	PolicyDual LoginPolicy = 2
	// PolicyTriple: one mobile platform, one desktop platform, plus Web.
	PolicyTriple LoginPolicy = 3
	// PolicyMulti: every platform at once.
	PolicyMulti LoginPolicy = 4
)

// DefaultPolicy is the policy of a new app.
const DefaultPolicy = PolicyDual

// String returns "single", "dual", "triple" or "multi".
func (p LoginPolicy) String() string {
	switch p {
	case PolicySingle:
		return "single"
	case PolicyDual:
		return "dual"
	case PolicyTriple:
		return "triple"
	case PolicyMulti:
		return "multi"
	}
	return "unknown"
}

// Valid reports whether p is one of the four policies.
func (p LoginPolicy) Valid() bool { return p >= PolicySingle && p <= PolicyMulti }

// ParseLoginPolicy parses "single", "dual", "triple" or "multi" (also with a
// "-platform" suffix, or the number 1..4), case-insensitively.
func ParseLoginPolicy(s string) (LoginPolicy, error) {
	s = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "-platform")
	switch s {
	case "single", "1":
		return PolicySingle, nil
	case "dual", "2":
		return PolicyDual, nil
	case "triple", "3":
		return PolicyTriple, nil
	case "multi", "4":
		return PolicyMulti, nil
	}
	return 0, Errorf(ErrInvalidParameters, "unknown login policy %q (want single, dual, triple or multi)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (p LoginPolicy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; see ParseLoginPolicy.
func (p *LoginPolicy) UnmarshalText(b []byte) error {
	v, err := ParseLoginPolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// UserID limits: 1..32 bytes of a-z, A-Z, 0-9, '_' and '-'.
const MaxUserIDLen = 32

// ValidateUserID returns nil when id is 1..32 bytes of a-zA-Z0-9_-, else an
// *Error with code ErrInvalidIdentifier (7003) saying what is wrong.
func ValidateUserID(id string) error {
	if id == "" {
		return Errorf(ErrInvalidIdentifier, "userID is empty")
	}
	if len(id) > MaxUserIDLen {
		return Errorf(ErrInvalidIdentifier, "userID is %d bytes, more than %d", len(id), MaxUserIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !userIDByte(id[i]) {
			return Errorf(ErrInvalidIdentifier, "userID has a character that is not a-z, A-Z, 0-9, '_' or '-' at byte %d", i)
		}
	}
	return nil
}

func userIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
