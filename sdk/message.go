package sdk

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/protocol"
)

// Elem is one element of a message: protocol.ElemText with Text, or
// protocol.ElemCustom with Data, Desc and Ext.
type Elem = protocol.Elem

// Message is a one-to-one (C2C) message.
type Message struct {
	// MsgID is the server's key for the message; empty until it is sent.
	MsgID string
	// ClientMsgID is set when the message is created; sending the same
	// Message again (after a timeout, say) never makes a duplicate.
	ClientMsgID string
	From, To    string
	// Seq is the message's place in this user's mailbox; ConvSeq its place
	// in the conversation.
	Seq     uint64
	ConvSeq uint64
	Time    time.Time
	Random  uint32
	Elems   []Elem
	// OnlineUserOnly, set before SendMessage, sends the message only to
	// the instances online now (the receiver's and this user's others), as
	// Tencent's onlineUserOnly: for typing indicators and the like. The
	// server keeps nothing: the message has no Seq or ConvSeq, is not
	// cached, is in no history or conversation and counts as no unread,
	// and sending it again may deliver it twice. Received online-only
	// messages have it set.
	OnlineUserOnly bool
}

// NewTextMessage returns a text message, ready for SendMessage.
func NewTextMessage(text string) *Message {
	return newMessage(Elem{Type: protocol.ElemText, Text: text})
}

// NewCustomMessage returns a message with app-defined data (binary data
// should be base64), ready for SendMessage.
func NewCustomMessage(data, desc, ext string) *Message {
	return newMessage(Elem{Type: protocol.ElemCustom, Data: data, Desc: desc, Ext: ext})
}

// newMessage returns a message with a new client message ID: the time in
// milliseconds (12 hex digits) and 80 random bits (20 hex digits).
// Time-ordered IDs are cheaper for the server to index than random ones
// (see protocol.SendRequest).
func newMessage(elems ...Elem) *Message {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	rand.Read(b[6:])
	return &Message{ClientMsgID: hex.EncodeToString(b[:]), Random: binary.LittleEndian.Uint32(b[12:]), Elems: elems}
}

// Text returns the message's text elements, joined.
func (m *Message) Text() string {
	var sb strings.Builder
	for _, e := range m.Elems {
		if e.Type == protocol.ElemText {
			sb.WriteString(e.Text)
		}
	}
	return sb.String()
}

// peer is the other user of the message's conversation, seen by owner.
func (m *Message) peer(owner string) string {
	if m.From == owner {
		return m.To
	}
	return m.From
}

// Conversation is one entry of the conversation list.
type Conversation struct {
	Peer        string
	LastMessage *Message
	// Unread counts the messages from Peer after ReadSeq.
	Unread  int
	ConvSeq uint64
	ReadSeq uint64
	Time    time.Time
}

func timeMilli(ms int64) time.Time { return time.UnixMilli(ms) }

// wireMessage is a message as the server sends it.
func fromWire(w *protocol.Message) *Message {
	return &Message{
		MsgID: w.MsgID, ClientMsgID: w.ClientMsgID, From: w.From, To: w.To,
		Seq: w.Seq, ConvSeq: w.ConvSeq, Time: timeMilli(w.Time), Random: w.Random, Elems: w.Elems,
	}
}

// SendMessage sends msg to the user receiver and returns it as stored by the
// server (MsgID, Seq, ConvSeq and Time filled in). While the SDK reconnects
// it waits, up to ctx's deadline; sending the same msg again after an error
// never makes a duplicate. A receiver that never logged in gets the message
// at their first login. Text over 12 KB is refused with 80002.
func (s *SDK) SendMessage(ctx context.Context, msg *Message, receiver string) (*Message, error) {
	sess, err := s.loggedIn()
	if err != nil {
		return nil, err
	}
	if err := imkit.ValidateUserID(receiver); err != nil {
		return nil, err
	}
	if msg == nil || len(msg.Elems) == 0 {
		return nil, imkit.Errorf(imkit.ErrInvalidParameters, "empty message")
	}
	// While it is being sent, a sync that brings the message back is not
	// news to this instance.
	sess.sending(msg.ClientMsgID, 1)
	defer sess.sending(msg.ClientMsgID, -1)
	req := protocol.SendRequest{To: receiver, ClientMsgID: msg.ClientMsgID, Random: msg.Random, Elems: msg.Elems, OnlineOnly: msg.OnlineUserOnly}
	var reply protocol.SendReply
	if err := sess.call(ctx, protocol.OpSend, &req, &reply); err != nil {
		return nil, err
	}
	sent := *msg
	sent.MsgID, sent.From, sent.To = reply.MsgID, sess.userID, receiver
	sent.Seq, sent.ConvSeq, sent.Time = reply.Seq, reply.ConvSeq, timeMilli(reply.Time)
	// The server says what it did: a stored message has a seq (a server
	// without online-only messages stores them all).
	sent.OnlineUserOnly = reply.Seq == 0
	if !sent.OnlineUserOnly {
		sess.apply(ctx, &sent)
	}
	return &sent, nil
}

// ConversationList returns count conversations from offset, newest first,
// from the local cache, and whether there are more. It is the one call that
// works before a login succeeds (right after Login is called, and after it
// failed), reading what the cache held; once logged in, the cache is kept in
// step with the server.
func (s *SDK) ConversationList(ctx context.Context, offset, count int) ([]*Conversation, bool, error) {
	if s == nil {
		return nil, false, imkit.Errorf(imkit.ErrSDKNotInitialized, "the SDK is not initialised")
	}
	s.mu.Lock()
	inited, c := s.inited, s.cache
	s.mu.Unlock()
	if !inited {
		return nil, false, imkit.Errorf(imkit.ErrSDKNotInitialized, "the SDK is not initialised")
	}
	if c == nil {
		return nil, false, imkit.Errorf(imkit.ErrSDKNotLoggedIn, "no user has logged in on this instance")
	}
	if offset < 0 || count <= 0 {
		return nil, false, imkit.Errorf(imkit.ErrInvalidParameters, "offset must be >= 0 and count > 0")
	}
	convs, err := c.conversations(ctx, offset, count+1)
	if err != nil {
		return nil, false, err
	}
	if len(convs) > count {
		return convs[:count], true, nil
	}
	return convs, false, nil
}

// MarkConversationRead marks the conversation with peer read; the unread
// count goes to 0 on every instance of the user.
func (s *SDK) MarkConversationRead(ctx context.Context, peer string) error {
	sess, err := s.loggedIn()
	if err != nil {
		return err
	}
	if err := imkit.ValidateUserID(peer); err != nil {
		return err
	}
	var r protocol.ConvRead
	if err := sess.call(ctx, protocol.OpConvRead, &protocol.ConvReadRequest{Peer: peer}, &r); err != nil {
		return err
	}
	sess.applyRead(ctx, &r)
	return nil
}

// History returns up to count messages of the conversation with peer whose
// ConvSeq is below before (0: the newest), newest first, from the server,
// and whether there are older ones.
func (s *SDK) History(ctx context.Context, peer string, before uint64, count int) ([]*Message, bool, error) {
	sess, err := s.loggedIn()
	if err != nil {
		return nil, false, err
	}
	if err := imkit.ValidateUserID(peer); err != nil {
		return nil, false, err
	}
	if count <= 0 || count > protocol.MaxPageSize {
		return nil, false, imkit.Errorf(imkit.ErrInvalidParameters, "count must be 1..%d", protocol.MaxPageSize)
	}
	var r protocol.HistoryReply
	if err := sess.call(ctx, protocol.OpHistory, &protocol.HistoryRequest{Peer: peer, Before: before, Limit: count}, &r); err != nil {
		return nil, false, err
	}
	out := make([]*Message, len(r.Msgs))
	for i := range r.Msgs {
		out[i] = fromWire(&r.Msgs[i])
	}
	return out, r.More, nil
}

// switchCacheLocked opens userID's cache, closing another user's.
func (s *SDK) switchCacheLocked(userID string) {
	if s.cache != nil && s.cache.user == userID {
		return
	}
	if s.cache != nil {
		s.cache.close()
		s.cache = nil
	}
	ctx := context.Background()
	c, err := openCache(ctx, s.cfg.DataDir, s.appID, userID)
	if err != nil {
		s.log.Error("open local cache; using memory", "err", err)
		if c, err = openCache(ctx, "", s.appID, userID); err != nil {
			s.log.Error("open memory cache", "err", err)
			return
		}
	}
	s.cache = c
}

// cacheOf returns the cache when it is userID's.
func (s *SDK) cacheOf(userID string) *cache {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache == nil || s.cache.user != userID {
		return nil
	}
	return s.cache
}

// sending counts the sends of clientMsgID in flight on this instance.
func (ss *session) sending(clientMsgID string, n int) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.outbox == nil {
		ss.outbox = make(map[string]int)
	}
	if ss.outbox[clientMsgID] += n; ss.outbox[clientMsgID] <= 0 {
		delete(ss.outbox, clientMsgID)
	}
}

func (ss *session) isSending(clientMsgID string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.outbox[clientMsgID] > 0
}

// apply caches a message of the mailbox and, when it is new, tells the app:
// OnRecvNewMessage (unless this instance is sending it) and
// OnConversationChanged. It returns the synced seq after it (0 on error).
func (ss *session) apply(ctx context.Context, m *Message) uint64 {
	s := ss.sdk
	c := s.cacheOf(ss.userID)
	if c == nil {
		return 0
	}
	conv, isNew, err := c.add(ctx, m)
	if err != nil {
		s.log.Warn("cache message", "err", err)
		return 0
	}
	if isNew {
		ss.tellNew(m)
		if f := s.cfg.Listener.OnConversationChanged; f != nil && conv != nil {
			s.ev.post(func() { f([]*Conversation{conv}) })
		}
	}
	synced, err := c.advance(ctx)
	if err != nil {
		s.log.Warn("cache", "err", err)
		return 0
	}
	return synced
}

// tellNew calls OnRecvNewMessage with m, unless this instance is sending
// it.
func (ss *session) tellNew(m *Message) {
	if f := ss.sdk.cfg.Listener.OnRecvNewMessage; f != nil && !(m.From == ss.userID && ss.isSending(m.ClientMsgID)) {
		ss.sdk.ev.post(func() { f(m) })
	}
}

// onMessage handles a pushed message; a gap in the mailbox sequence before
// it is filled from the server.
func (ss *session) onMessage(data json.RawMessage) {
	var w protocol.Message
	if protocol.DecodeData(data, &w) != nil {
		return
	}
	m := fromWire(&w)
	if m.Seq == 0 {
		// An online-only message (every stored one has a seq): told, not
		// cached, not counted in the mailbox.
		m.OnlineUserOnly = true
		ss.tellNew(m)
		return
	}
	if synced := ss.apply(ss.ctx, m); synced != 0 && synced < m.Seq {
		go ss.fill(m.Seq)
	}
}

func (ss *session) onConvRead(data json.RawMessage) {
	var r protocol.ConvRead
	if protocol.DecodeData(data, &r) == nil {
		ss.applyRead(ss.ctx, &r)
	}
}

func (ss *session) applyRead(ctx context.Context, r *protocol.ConvRead) {
	s := ss.sdk
	c := s.cacheOf(ss.userID)
	if c == nil {
		return
	}
	conv, err := c.markRead(ctx, r.Peer, r.ReadSeq, r.Unread)
	if err != nil || conv == nil {
		return
	}
	if f := s.cfg.Listener.OnConversationChanged; f != nil {
		s.ev.post(func() { f([]*Conversation{conv}) })
	}
}

// syncTimeout bounds each request of a sync.
const syncTimeout = 30 * time.Second

// sync catches up with the server after a login or a resume on conn: the
// mailbox after the cached seq (when the server has newer than maxSeq
// says), then the conversation list with its read states. It reports
// OnSyncServerStart and then always one of OnSyncServerFinish or
// OnSyncServerFailed.
func (ss *session) sync(conn *conn, maxSeq uint64) {
	ss.syncMu.Lock()
	defer ss.syncMu.Unlock()
	s := ss.sdk
	c := s.cacheOf(ss.userID)
	if c == nil || ss.ctx.Err() != nil {
		return
	}
	l := s.cfg.Listener
	s.emit(l.OnSyncServerStart)
	err := ss.syncMailbox(conn, c, maxSeq)
	if err == nil {
		err = ss.syncConversations(conn, c)
	}
	if err != nil {
		s.log.Info("sync failed", "user", ss.userID, "err", imkit.ErrorMessage(err))
		s.emit(l.OnSyncServerFailed)
		return
	}
	s.emit(l.OnSyncServerFinish)
}

// fill fetches the mailbox up to seq, after a push showed a gap.
func (ss *session) fill(seq uint64) {
	ss.syncMu.Lock()
	defer ss.syncMu.Unlock()
	c := ss.sdk.cacheOf(ss.userID)
	ss.mu.Lock()
	conn := ss.conn
	ss.mu.Unlock()
	if c == nil || conn == nil || ss.ctx.Err() != nil {
		return
	}
	if err := ss.syncMailbox(conn, c, seq); err != nil {
		ss.sdk.log.Info("fill gap", "user", ss.userID, "err", imkit.ErrorMessage(err))
	}
}

// syncMailbox fetches the messages after the synced seq until the server
// has no more; nothing when the cache already holds maxSeq (0: unknown).
func (ss *session) syncMailbox(conn *conn, c *cache, maxSeq uint64) error {
	after, err := c.syncedSeq(ss.ctx)
	if err != nil {
		return err
	}
	if maxSeq != 0 && after >= maxSeq {
		return nil
	}
	for {
		ctx, cancel := context.WithTimeout(ss.ctx, syncTimeout)
		var r protocol.SyncReply
		_, err := conn.roundTrip(ctx, protocol.OpSync, &protocol.SyncRequest{After: after, Limit: protocol.MaxPageSize}, &r)
		cancel()
		if err != nil {
			return err
		}
		for i := range r.Msgs {
			m := fromWire(&r.Msgs[i])
			ss.apply(ss.ctx, m)
			after = m.Seq
		}
		if err := c.setSyncedSeq(ss.ctx, after); err != nil {
			return err
		}
		if !r.More || len(r.Msgs) == 0 {
			return nil
		}
	}
}

// syncConversations takes the server's conversation list: unread counts
// and read states changed on other instances meanwhile.
func (ss *session) syncConversations(conn *conn, c *cache) error {
	var convs []*Conversation
	cursor := ""
	for page := 0; page < 1000; page++ {
		ctx, cancel := context.WithTimeout(ss.ctx, syncTimeout)
		var r protocol.ConvListReply
		_, err := conn.roundTrip(ctx, protocol.OpConvList, &protocol.ConvListRequest{Cursor: cursor, Limit: protocol.MaxPageSize}, &r)
		cancel()
		if err != nil {
			return err
		}
		for i := range r.Convs {
			w := &r.Convs[i]
			cv := &Conversation{Peer: w.Peer, Unread: w.Unread, ConvSeq: w.ConvSeq, ReadSeq: w.ReadSeq, Time: timeMilli(w.Time)}
			if w.LastMessage != nil {
				cv.LastMessage = fromWire(w.LastMessage)
			}
			convs = append(convs, cv)
		}
		if !r.More {
			break
		}
		cursor = r.Next
	}
	if err := c.putConversations(ss.ctx, convs); err != nil {
		return err
	}
	if l := ss.sdk.cfg.Listener; len(convs) > 0 && l.OnConversationChanged != nil {
		f := l.OnConversationChanged
		ss.sdk.ev.post(func() { f(convs) })
	}
	return nil
}
