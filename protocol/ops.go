package protocol

import "github.com/imkit/imkit"

// Requests, client to server. Each names its payload and reply types.
const (
	OpLogin    = "login"     // LoginRequest -> LoginReply; the first frame
	OpLogout   = "logout"    // no payload -> no payload; then CloseLoggedOut
	OpPing     = "ping"      // no payload -> no payload; heartbeat
	OpRenew    = "renew"     // RenewRequest -> RenewReply; new ticket, same connection
	OpSend     = "send"      // SendRequest -> SendReply
	OpSync     = "sync"      // SyncRequest -> SyncReply
	OpConvList = "conv.list" // ConvListRequest -> ConvListReply
	OpConvRead = "conv.read" // ConvReadRequest -> ConvRead
	OpConvDel  = "conv.del"  // ConvDel -> ConvDel; delete a conversation for this user
	OpHistory  = "history"   // HistoryRequest -> HistoryReply
)

// Pushes, server to client.
const (
	PushKicked   = "kicked"    // Kick; the connection closes with CloseKicked
	PushExpiring = "expiring"  // Expiring; answer with OpRenew
	PushMsg      = "msg"       // Message; a new message in the user's mailbox
	PushConvRead = "conv.read" // ConvRead; the user read a conversation on a device
	PushConvDel  = "conv.del"  // ConvDel; the user deleted a conversation on a device
	PushError    = "error"     // code and msg; a frame that could not be decoded
	// PushSync (no payload): pushes may have been lost (the server's nodes
	// lost touch with each other for a while); sync the mailbox and the
	// conversation list as after a resume.
	PushSync = "sync"
)

// LoginRequest is the payload of OpLogin.
type LoginRequest struct {
	SDKAppID uint64 `json:"sdkAppID"`
	UserID   string `json:"userID"`
	UserSig  string `json:"userSig"`
	// Platform is the client's platform name: Android, iPhone, iPad, Windows,
	// Mac, Linux or Web.
	Platform imkit.Platform `json:"platform"`
	// InstanceID identifies the SDK instance (one app install, one browser
	// tab): random, stable across its reconnects. At most 64 bytes.
	InstanceID string `json:"instanceID"`
	// SessionID, when set, resumes that session instead of starting a new
	// one; the ticket must still be valid.
	SessionID  string `json:"sessionID,omitempty"`
	SDKVersion string `json:"sdkVersion,omitempty"`
}

// LoginReply is the reply to a successful OpLogin.
type LoginReply struct {
	SessionID string `json:"sessionID"`
	// Resumed is true when the request resumed an existing session.
	Resumed bool `json:"resumed,omitempty"`
	// ServerTime is the server's clock, in Unix milliseconds.
	ServerTime int64 `json:"serverTime"`
	// TicketExpire is when the ticket stops being valid, in Unix seconds.
	TicketExpire int64 `json:"ticketExpire"`
	// Heartbeat is the interval, in milliseconds, at which the client sends
	// OpPing; the server closes a link silent for 3 intervals.
	Heartbeat int64 `json:"heartbeat"`
	// MaxSeq is the newest sequence number in the user's mailbox; a client
	// holding less syncs with OpSync.
	MaxSeq uint64 `json:"maxSeq"`
}

// Kick is the payload of PushKicked, and the data of a login reply with code
// 6208 (ErrKickedOffByOther) when a resumed session had been kicked.
type Kick struct {
	Reason imkit.KickReason `json:"reason"`
	// Platform is the platform of the login that kicked this instance; absent
	// for an admin kick.
	Platform imkit.Platform `json:"platform,omitempty"`
	// Time is when the session was kicked, in Unix milliseconds.
	Time int64 `json:"time"`
}

// RenewRequest is the payload of OpRenew.
type RenewRequest struct {
	UserSig string `json:"userSig"`
}

// RenewReply is the reply to OpRenew.
type RenewReply struct {
	TicketExpire int64 `json:"ticketExpire"` // Unix seconds
}

// Expiring is the payload of PushExpiring.
type Expiring struct {
	TicketExpire int64 `json:"ticketExpire"` // Unix seconds
}

// Element types.
const (
	ElemText   = "text"
	ElemCustom = "custom"
)

// Elem is one element of a message body: a text, or custom data the app
// defines (Tencent's TIMTextElem and TIMCustomElem).
type Elem struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"` // text
	Data string `json:"data,omitempty"` // custom; binary data should be base64
	Desc string `json:"desc,omitempty"` // custom
	Ext  string `json:"ext,omitempty"`  // custom
}

// Message limits.
const (
	// MaxMessageSize is the largest message body (the sum of its elements'
	// text, data, desc and ext), as in Tencent: 12 KB.
	MaxMessageSize = 12 << 10
	// MaxElems is the most elements in one message.
	MaxElems = 16
	// MaxClientMsgIDLen is the longest client message ID.
	MaxClientMsgIDLen = 64
	// MaxPageSize is the most items one sync, history or conversation-list
	// reply holds.
	MaxPageSize = 100
)

// SendRequest is the payload of OpSend: a one-to-one (C2C) message.
type SendRequest struct {
	To string `json:"to"`
	// ClientMsgID makes the send idempotent: a retry with the same ID from the
	// same user gets the first send's reply and stores nothing new. 1..64
	// bytes. IDs that start with the time (as the SDK's do: milliseconds in
	// 12 hex digits, then random ones) cost the server less to index than
	// random ones.
	ClientMsgID string `json:"clientMsgID"`
	Random      uint32 `json:"random,omitempty"`
	Elems       []Elem `json:"elems"`
	// OnlineOnly sends the message only to the instances online now (the
	// receiver's, and the sender's others): it is not stored, so it has no
	// seq, is in no sync, history or conversation and counts as no unread,
	// and a retry is not recognised (Tencent's onlineUserOnly, for typing
	// indicators and the like).
	OnlineOnly bool `json:"onlineOnly,omitempty"`
}

// SendReply is the reply to OpSend, sent once the message is stored.
type SendReply struct {
	MsgID   string `json:"msgID"`
	Seq     uint64 `json:"seq"`     // the sender's mailbox sequence
	ConvSeq uint64 `json:"convSeq"` // the conversation's sequence
	Time    int64  `json:"time"`    // server time, Unix milliseconds
	// Dup is true when the message had been stored before (a retry).
	Dup bool `json:"dup,omitempty"`
}

// Message is a stored message as one owner's mailbox holds it.
type Message struct {
	MsgID       string `json:"msgID"`
	ClientMsgID string `json:"clientMsgID"`
	From        string `json:"from"`
	To          string `json:"to"`
	// Seq is the message's place in the mailbox of the user it is sent to
	// (pushes, sync) or read by (history).
	Seq     uint64 `json:"seq"`
	ConvSeq uint64 `json:"convSeq"`
	Time    int64  `json:"time"` // Unix milliseconds
	Random  uint32 `json:"random,omitempty"`
	Elems   []Elem `json:"elems"`
}

// SyncRequest is the payload of OpSync: the messages after a mailbox
// sequence number, oldest first.
type SyncRequest struct {
	After uint64 `json:"after"`
	Limit int    `json:"limit,omitempty"` // 1..MaxPageSize, default MaxPageSize
}

// SyncReply is the reply to OpSync.
type SyncReply struct {
	Msgs   []Message `json:"msgs"`
	MaxSeq uint64    `json:"maxSeq"`
	More   bool      `json:"more,omitempty"`
}

// Conversation is one entry of a user's conversation list.
type Conversation struct {
	Peer        string   `json:"peer"`
	LastMessage *Message `json:"lastMessage,omitempty"`
	Unread      int      `json:"unread"`
	ConvSeq     uint64   `json:"convSeq"` // of the last message
	ReadSeq     uint64   `json:"readSeq"` // read up to and including
	Time        int64    `json:"time"`    // of the last message, Unix ms
}

// ConvListRequest is the payload of OpConvList: newest first.
type ConvListRequest struct {
	Cursor string `json:"cursor,omitempty"` // from the previous reply's Next
	Limit  int    `json:"limit,omitempty"`
}

// ConvListReply is the reply to OpConvList.
type ConvListReply struct {
	Convs []Conversation `json:"convs"`
	Next  string         `json:"next,omitempty"`
	More  bool           `json:"more,omitempty"`
	// TotalUnread, on the first page only (no cursor), is the sum of the
	// unread counts of all the user's conversations.
	TotalUnread *int `json:"totalUnread,omitempty"`
}

// ConvReadRequest is the payload of OpConvRead: mark a conversation read up
// to ConvSeq (0: everything).
type ConvReadRequest struct {
	Peer    string `json:"peer"`
	ConvSeq uint64 `json:"convSeq,omitempty"`
}

// ConvRead is the payload of PushConvRead.
type ConvRead struct {
	Peer    string `json:"peer"`
	ReadSeq uint64 `json:"readSeq"`
	Unread  int    `json:"unread"`
}

// ConvDel is the payload of OpConvDel, its reply, and the payload of
// PushConvDel: the user's conversation with Peer is deleted, for this user
// only (Tencent's deleteConversation): it leaves the list, and its history
// and unread count go with it; Peer keeps their copy. The next message
// between them starts the conversation afresh.
type ConvDel struct {
	Peer string `json:"peer"`
}

// HistoryRequest is the payload of OpHistory: a conversation's messages
// before a conversation sequence (0: the newest), newest first.
type HistoryRequest struct {
	Peer   string `json:"peer"`
	Before uint64 `json:"before,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

// HistoryReply is the reply to OpHistory.
type HistoryReply struct {
	Msgs []Message `json:"msgs"`
	More bool      `json:"more,omitempty"`
}
