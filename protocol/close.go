package protocol

// WebSocket close codes. The SDK reconnects (and resumes) after a code in the
// reconnect range or one of the standard codes for a server going away or
// failing; after a code in the terminal range it stops.
const (
	CloseNormal = 1000 // standard: normal closure

	CloseReconnectMin = 4000
	// CloseServerShutdown: the server is shutting down or restarting
	// (SIGTERM); clients reconnect at once, to another node if they know
	// one, and resume.
	CloseServerShutdown = 4000
	// CloseSlowConsumer: the client did not read its frames fast enough; it
	// resyncs after reconnecting.
	CloseSlowConsumer = 4001
	// CloseIdleTimeout: nothing heard from the client for too long.
	CloseIdleTimeout = 4002
	// CloseServerError: the server failed in a way a retry may fix.
	CloseServerError = 4003
	// CloseReplaced: the same session was resumed on another connection.
	CloseReplaced     = 4004
	CloseReconnectMax = 4099

	CloseTerminalMin = 4100
	// CloseKicked: another login or an admin ended the session (PushKicked
	// came before).
	CloseKicked = 4100
	// CloseTicketExpired: the ticket expired and was not renewed.
	CloseTicketExpired = 4101
	// CloseLoggedOut: the client logged out.
	CloseLoggedOut = 4102
	// CloseLoginFailed: the login or resume was refused; the reply said why.
	CloseLoginFailed = 4103
	// CloseProtocolError: the client broke the protocol (oversized or
	// repeatedly malformed frames, no login in time).
	CloseProtocolError = 4104
	CloseTerminalMax   = 4199
)

// Reconnect reports whether a client should reconnect after the connection
// closed with code. Codes outside both ranges (1000 normal, 1008 policy, 1009
// too big, unknown 4xxx) are terminal, except the standard codes a failing
// or restarting server or a broken network produce: 1001 going away, 1006
// abnormal closure (no close frame), 1011 internal error, 1012 service
// restart, 1013 try again later, 1014 bad gateway.
func Reconnect(code int) bool {
	switch {
	case code >= CloseReconnectMin && code <= CloseReconnectMax:
		return true
	case code >= CloseTerminalMin && code <= CloseTerminalMax:
		return false
	}
	switch code {
	case 1001, 1006, 1011, 1012, 1013, 1014:
		return true
	}
	return false
}

// CloseText returns a short description of a close code.
func CloseText(code int) string {
	switch code {
	case CloseNormal:
		return "normal closure"
	case CloseServerShutdown:
		return "server shutting down"
	case CloseSlowConsumer:
		return "slow consumer"
	case CloseIdleTimeout:
		return "idle timeout"
	case CloseServerError:
		return "server error"
	case CloseReplaced:
		return "session resumed elsewhere"
	case CloseKicked:
		return "kicked offline"
	case CloseTicketExpired:
		return "ticket expired"
	case CloseLoggedOut:
		return "logged out"
	case CloseLoginFailed:
		return "login failed"
	case CloseProtocolError:
		return "protocol error"
	}
	return "unknown"
}
