package imkit

// LoginStatus is what the app asked for, as in Tencent's V2TIMLoginStatus:
// the connection may drop and come back while the status stays LoginStatusLogined.
type LoginStatus int

// Login statuses, with Tencent's values.
const (
	LoginStatusLogined  LoginStatus = 1 // V2TIM_STATUS_LOGINED
	LoginStatusLogining LoginStatus = 2 // V2TIM_STATUS_LOGINING
	LoginStatusLogout   LoginStatus = 3 // V2TIM_STATUS_LOGOUT
)

// String returns "LOGINED", "LOGINING" or "LOGOUT".
func (s LoginStatus) String() string {
	switch s {
	case LoginStatusLogined:
		return "LOGINED"
	case LoginStatusLogining:
		return "LOGINING"
	case LoginStatusLogout:
		return "LOGOUT"
	}
	return "UNKNOWN"
}

// KickReason says why a session was ended by someone else.
type KickReason uint8

// Kick reasons. The numeric values are part of the wire protocol.
const (
	KickUnknown KickReason = 0
	// KickMultiDevice: a login on another platform conflicted under the policy.
	KickMultiDevice KickReason = 1
	// KickMultiInstance: a login on the same platform exceeded its instance limit.
	KickMultiInstance KickReason = 2
	// KickAdmin: an operator ended the user's sessions (REST kick, CLI).
	KickAdmin KickReason = 3
)

// String returns "multi-device", "multi-instance", "admin" or "unknown".
func (r KickReason) String() string {
	switch r {
	case KickMultiDevice:
		return "multi-device"
	case KickMultiInstance:
		return "multi-instance"
	case KickAdmin:
		return "admin"
	}
	return "unknown"
}
