package imkit

import "strings"

// Platform is the kind of client an SDK instance runs on. The multi-client
// login policy groups platforms: Android, IPhone and IPad are mobile; Windows,
// Mac and Linux are desktop; Web is on its own.
type Platform uint8

// Platforms. The numeric values are part of the wire protocol and the database;
// never renumber them.
const (
	PlatformUnknown Platform = 0
	PlatformAndroid Platform = 1
	PlatformIPhone  Platform = 2
	PlatformIPad    Platform = 3
	PlatformWindows Platform = 4
	PlatformMac     Platform = 5
	PlatformLinux   Platform = 6
	PlatformWeb     Platform = 7
)

// Platforms lists every known platform, in numeric order.
var Platforms = []Platform{
	PlatformAndroid, PlatformIPhone, PlatformIPad,
	PlatformWindows, PlatformMac, PlatformLinux,
	PlatformWeb,
}

// platformNames are Tencent's names, as used by the REST API and callbacks.
var platformNames = [...]string{
	PlatformUnknown: "Unknown",
	PlatformAndroid: "Android",
	PlatformIPhone:  "iPhone",
	PlatformIPad:    "iPad",
	PlatformWindows: "Windows",
	PlatformMac:     "Mac",
	PlatformLinux:   "Linux",
	PlatformWeb:     "Web",
}

// String returns Tencent's name of the platform ("Android", "iPhone", "iPad",
// "Windows", "Mac", "Linux", "Web"), or "Unknown".
func (p Platform) String() string {
	if int(p) < len(platformNames) {
		return platformNames[p]
	}
	return "Unknown"
}

// Valid reports whether p is one of the known platforms.
func (p Platform) Valid() bool { return p >= PlatformAndroid && p <= PlatformWeb }

// PlatformClass is the group a platform belongs to under the login policies.
type PlatformClass uint8

// Platform classes.
const (
	ClassNone    PlatformClass = iota
	ClassMobile                // Android, iPhone, iPad
	ClassDesktop               // Windows, Mac, Linux
	ClassWeb                   // Web
)

// String returns "mobile", "desktop", "web" or "none".
func (c PlatformClass) String() string {
	switch c {
	case ClassMobile:
		return "mobile"
	case ClassDesktop:
		return "desktop"
	case ClassWeb:
		return "web"
	}
	return "none"
}

// Class returns the policy group of the platform.
func (p Platform) Class() PlatformClass {
	switch p {
	case PlatformAndroid, PlatformIPhone, PlatformIPad:
		return ClassMobile
	case PlatformWindows, PlatformMac, PlatformLinux:
		return ClassDesktop
	case PlatformWeb:
		return ClassWeb
	}
	return ClassNone
}

// MaxInstances is the largest per-platform instance limit an app may set:
// 10 for Web, 3 for every native platform.
func (p Platform) MaxInstances() int {
	if p == PlatformWeb {
		return 10
	}
	return 3
}

// ParsePlatform parses a platform name, case-insensitively. Besides Tencent's
// names it accepts "iOS" (iPhone), "macOS" and "OSX" (Mac), "PC" (Windows) and
// the decimal platform number.
func ParsePlatform(s string) (Platform, error) {
	switch strings.ToLower(s) {
	case "android", "1":
		return PlatformAndroid, nil
	case "iphone", "ios", "2":
		return PlatformIPhone, nil
	case "ipad", "3":
		return PlatformIPad, nil
	case "windows", "pc", "4":
		return PlatformWindows, nil
	case "mac", "macos", "osx", "5":
		return PlatformMac, nil
	case "linux", "6":
		return PlatformLinux, nil
	case "web", "7":
		return PlatformWeb, nil
	}
	return PlatformUnknown, Errorf(ErrInvalidParameters, "unknown platform %q (want one of Android, iPhone, iPad, Windows, Mac, Linux, Web)", s)
}

// MarshalText implements encoding.TextMarshaler with Tencent's names.
func (p Platform) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: it reads back every
// text MarshalText writes, "Unknown" (PlatformUnknown) included, and
// otherwise what ParsePlatform accepts. Whoever needs a known platform
// checks Valid: ParsePlatform, for names typed by people, refuses
// "Unknown", but a kick by an admin carries PlatformUnknown between nodes
// and must come back as it went.
func (p *Platform) UnmarshalText(b []byte) error {
	if strings.EqualFold(string(b), platformNames[PlatformUnknown]) {
		*p = PlatformUnknown
		return nil
	}
	v, err := ParsePlatform(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
