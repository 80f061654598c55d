// Package protocol defines imkit's wire protocol between the SDK and the
// server: the frames, the operations and pushes, their payloads, and the
// WebSocket close codes. docs/protocol.md is the same reference in prose, for
// SDK authors in other languages.
//
// # Transport
//
// A client opens a WebSocket to the server's /ws path (no ticket or other
// secret in the URL). Every WebSocket message is one UTF-8 JSON object, a
// Frame, of at most MaxFrameSize bytes.
//
// # Frames
//
// There are three kinds of frame, told apart by which fields are set:
//
//	request  client->server  {"id":7,"op":"send","data":{...}}      id > 0 and op
//	reply    server->client  {"id":7,"code":0,"data":{...}}         id > 0, no op
//	push     server->client  {"op":"msg","data":{...}}              op, no id
//
// Each request gets exactly one reply with the same id. code 0 is success;
// any other code is one of Tencent's error codes (package imkit) with a
// message for people in "msg". The client picks request ids; they need only
// be unique among its requests in flight on that connection.
//
// # Protocol flow
//
//  1. The client connects and sends OpLogin as its first frame within
//     LoginTimeout. A fresh login carries the ticket (UserSig); a resume
//     (after a network loss) carries the same ticket and the SessionID the
//     earlier login returned, and continues that session: it is not a new
//     login and does not apply the login policy again.
//  2. The server verifies the ticket, applies the app's login policy (which
//     may kick other instances of the user, each told with PushKicked), and
//     replies with LoginReply. A failed login gets an error reply, then the
//     connection is closed with a terminal close code.
//  3. While logged in, the client sends OpPing at the interval LoginReply
//     gives; the server replies. A side that hears nothing from its peer for
//     longer than its idle timeout closes the link.
//  4. The server pushes PushExpiring before the ticket runs out; the
//     client answers with OpRenew carrying a new ticket, on the same
//     connection. Without one, the server ends the session at expiry
//     (CloseTicketExpired).
//  5. OpLogout ends the session; the server replies, then closes with
//     CloseLoggedOut.
//
// # Close codes
//
// Codes in [CloseReconnectMin, CloseReconnectMax] (and the standard codes for
// a server going away or failing) mean "reconnect and resume": the SDK does so
// with capped, jittered exponential backoff. Codes in [CloseTerminalMin,
// CloseTerminalMax] mean the session is over (kicked, ticket expired, logged
// out, bad ticket, protocol violation): the SDK must not reconnect on its own.
package protocol

import (
	"encoding/json"
	"time"

	"github.com/imkit/imkit"
)

// Limits.
const (
	// MaxFrameSize is the largest frame either side accepts, in bytes.
	MaxFrameSize = 64 << 10
	// MaxOpLen is the longest op name.
	MaxOpLen = 32
	// MaxID is the largest request id (2^53-1, exact in every JSON parser).
	MaxID = 1<<53 - 1
	// LoginTimeout is how long the server waits for the first frame.
	LoginTimeout = 10 * time.Second
	// Path is the HTTP path of the WebSocket endpoint.
	Path = "/ws"
)

// Frame is one WebSocket message. See the package documentation for the
// three kinds of frame.
type Frame struct {
	ID   uint64          `json:"id,omitempty"`
	Op   string          `json:"op,omitempty"`
	Code imkit.Code      `json:"code,omitempty"`
	Msg  string          `json:"msg,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// IsRequest, IsReply and IsPush tell the kinds of frame apart.
func (f *Frame) IsRequest() bool { return f.ID != 0 && f.Op != "" }

// IsReply reports whether f answers a request.
func (f *Frame) IsReply() bool { return f.ID != 0 && f.Op == "" }

// IsPush reports whether f is a server push.
func (f *Frame) IsPush() bool { return f.ID == 0 && f.Op != "" }

// Err returns the reply's error as an *imkit.Error, or nil when Code is 0.
func (f *Frame) Err() error {
	if f.Code == imkit.OK {
		return nil
	}
	return &imkit.Error{Code: f.Code, Message: f.Msg}
}
