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
		// Taken in as this instance's own: it updates the conversation
		// and is never announced here. A gap before it is filled by the
		// pushes on their way (or by the sync after a reconnect).
		if _, err := sess.take([]*Message{&sent}, sentHere, 0, 0); err != nil {
			s.log.Warn("cache sent message", "err", err)
		}
	}
	return &sent, nil
}

// ConversationList returns count conversations from offset, newest first,
// from the local cache, and whether there are more. It works before a login
// succeeds (right after Login is called, and after it failed), reading what
// the cache held; once logged in, the cache is kept in step with the server:
// the first page of conversations is there when OnSyncServerFinish is
// called, the others follow (OnConversationChanged).
func (s *SDK) ConversationList(ctx context.Context, offset, count int) ([]*Conversation, bool, error) {
	c, err := s.readCache()
	if err != nil {
		return nil, false, err
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

// TotalUnreadCount returns the sum of the unread counts of all the user's
// conversations (Tencent's getTotalUnreadMessageCount): right from
// OnSyncServerFinish, while the later pages of the conversation list are
// still on their way (the server gives the total with the first). Like
// ConversationList it works before a login succeeds, from the local cache.
func (s *SDK) TotalUnreadCount(ctx context.Context) (int, error) {
	c, err := s.readCache()
	if err != nil {
		return 0, err
	}
	return c.unread(ctx)
}

// readCache returns the cache of the user logged in, logging in, or last
// logged in: the one the local reads serve from.
func (s *SDK) readCache() (*cache, error) {
	if s == nil {
		return nil, imkit.Errorf(imkit.ErrSDKNotInitialized, "the SDK is not initialised")
	}
	s.mu.Lock()
	inited, c := s.inited, s.cache
	s.mu.Unlock()
	if !inited {
		return nil, imkit.Errorf(imkit.ErrSDKNotInitialized, "the SDK is not initialised")
	}
	if c == nil {
		return nil, imkit.Errorf(imkit.ErrSDKNotLoggedIn, "no user has logged in on this instance")
	}
	return c, nil
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

// DeleteConversation deletes the conversation with peer for this user
// (Tencent's deleteConversation, clearing its history): it leaves the
// conversation list of each of the user's instances (OnConversationDeleted),
// its history and unread count go with it, and peer keeps their copy. The
// next message between them starts it afresh. A conversation that does not
// exist is refused with 6017.
func (s *SDK) DeleteConversation(ctx context.Context, peer string) error {
	sess, err := s.loggedIn()
	if err != nil {
		return err
	}
	if err := imkit.ValidateUserID(peer); err != nil {
		return err
	}
	if err := sess.call(ctx, protocol.OpConvDel, &protocol.ConvDel{Peer: peer}, nil); err != nil {
		return err
	}
	sess.applyDel(ctx, peer)
	return nil
}

// History returns up to count messages of the conversation with peer whose
// ConvSeq is below before (0: the newest), newest first, and whether there
// are older ones. A page the local cache holds whole is served from it;
// otherwise it comes from the server, and is cached. Before a login
// succeeds, and while the SDK reconnects, it returns what the cache holds
// (as Tencent's SDKs read their local database); with no cache at all
// (no login yet on this instance) it returns 6014.
func (s *SDK) History(ctx context.Context, peer string, before uint64, count int) ([]*Message, bool, error) {
	c, err := s.readCache()
	if err != nil {
		return nil, false, err
	}
	if err := imkit.ValidateUserID(peer); err != nil {
		return nil, false, err
	}
	if count <= 0 || count > protocol.MaxPageSize {
		return nil, false, imkit.Errorf(imkit.ErrInvalidParameters, "count must be 1..%d", protocol.MaxPageSize)
	}
	local, whole, err := c.history(ctx, peer, before, count)
	if err != nil {
		return nil, false, err
	}
	sess := s.current()
	if whole || sess == nil || sess.userID != c.user || !sess.connected() {
		return local, len(local) > 0 && local[len(local)-1].ConvSeq > 1, nil
	}
	var r protocol.HistoryReply
	if err := sess.call(ctx, protocol.OpHistory, &protocol.HistoryRequest{Peer: peer, Before: before, Limit: count}, &r); err != nil {
		return nil, false, err
	}
	out := make([]*Message, len(r.Msgs))
	for i := range r.Msgs {
		out[i] = fromWire(&r.Msgs[i])
	}
	if err := c.putHistory(ctx, out); err != nil {
		s.log.Warn("cache history", "err", err)
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

// sentHere says whether this instance is sending m: a sync or push that
// brings it back is not news here.
func sentHere(ss *session, m *Message) bool {
	return m.From == ss.userID && ss.isSending(m.ClientMsgID)
}

// take hands messages of the mailbox to the cache (see cache.take) and
// tells the app, in mailbox order, about those that are new: every path a
// message arrives by (pushes, sends' replies, syncs) goes through here, one
// at a time, so the app hears of each message once and in order. It
// returns the mailbox cursor after it.
func (ss *session) take(msgs []*Message, mine func(*session, *Message) bool, complete, skipTo uint64) (uint64, error) {
	s := ss.sdk
	c := s.cacheOf(ss.userID)
	if c == nil {
		return 0, imkit.Errorf(imkit.ErrSDKNotLoggedIn, "not logged in")
	}
	isMine := func(m *Message) bool { return mine != nil && mine(ss, m) }
	ss.takeMu.Lock()
	defer ss.takeMu.Unlock()
	t, err := c.take(ss.ctx, msgs, isMine, complete, skipTo)
	if err != nil {
		return 0, err
	}
	l := s.cfg.Listener
	if f := l.OnRecvNewMessage; f != nil {
		for _, m := range t.news {
			s.ev.post(func() { f(m) })
		}
	}
	if f := l.OnConversationChanged; f != nil && len(t.convs) > 0 {
		s.ev.post(func() { f(t.convs) })
	}
	return t.cursor, nil
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
		if f := ss.sdk.cfg.Listener.OnRecvNewMessage; f != nil {
			ss.sdk.ev.post(func() { f(m) })
		}
		return
	}
	cursor, err := ss.take([]*Message{m}, sentHere, 0, 0)
	if err != nil {
		ss.sdk.log.Warn("cache pushed message; a sync brings it again", "user", ss.userID, "err", err)
		return
	}
	if cursor < m.Seq {
		ss.wantFill(m.Seq)
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

// applyDel deletes the conversation with peer from the cache, and tells
// the app.
func (ss *session) applyDel(ctx context.Context, peer string) {
	s := ss.sdk
	c := s.cacheOf(ss.userID)
	if c == nil {
		return
	}
	ss.takeMu.Lock() // after the messages taken before it
	defer ss.takeMu.Unlock()
	if err := c.deleteConversation(ctx, peer); err != nil {
		s.log.Warn("delete cached conversation", "err", err)
		return
	}
	if f := s.cfg.Listener.OnConversationDeleted; f != nil {
		s.ev.post(func() { f([]string{peer}) })
	}
}

// syncTimeout bounds each request of a sync.
const syncTimeout = 30 * time.Second

// CatchUpLimit is the most messages a device that was away catches up on
// through OnRecvNewMessage. One that missed more (and a new device, with an
// empty cache, always) starts from the user's newest message: it learns of
// what it missed from the conversation list (last message, unread counts)
// and reads it with History, as in Tencent's SDKs: a new phone is never sent
// the whole mailbox.
const CatchUpLimit = 1000

// sync catches up with the server after a login or a resume on conn: the
// mailbox after the cursor (at most CatchUpLimit messages; a new device
// none), then the conversation list. It reports OnSyncServerStart and then
// always one of OnSyncServerFinish or OnSyncServerFailed: finished once the
// mailbox and the first page of conversations are in; the other pages
// follow, each with OnConversationChanged.
func (ss *session) sync(conn *conn, maxSeq uint64) {
	ss.syncMu.Lock()
	defer ss.syncMu.Unlock()
	s := ss.sdk
	if s.cacheOf(ss.userID) == nil || ss.ctx.Err() != nil {
		return
	}
	l := s.cfg.Listener
	s.emit(l.OnSyncServerStart)
	_, err := ss.syncMailbox(conn, maxSeq, maxSeq)
	next := ""
	if err == nil {
		next, err = ss.convPage(conn, "")
	}
	if err != nil {
		s.log.Info("sync failed", "user", ss.userID, "err", imkit.ErrorMessage(err))
		s.emit(l.OnSyncServerFailed)
		return
	}
	s.emit(l.OnSyncServerFinish)
	if next == "" {
		return
	}
	if err := ss.convPages(conn, next); err != nil {
		s.log.Info("sync conversations", "user", ss.userID, "err", imkit.ErrorMessage(err))
	}
}

// wantFill asks for the mailbox up to seq to be fetched, after a push
// showed a gap before it. Gaps found while a fill runs extend it: one fill
// at a time per session.
func (ss *session) wantFill(seq uint64) {
	ss.mu.Lock()
	ss.fillTo = max(ss.fillTo, seq)
	running := ss.filling
	ss.filling = true
	ss.mu.Unlock()
	if !running {
		go ss.fill()
	}
}

func (ss *session) fill() {
	for {
		ss.mu.Lock()
		to, conn := ss.fillTo, ss.conn
		ss.mu.Unlock()
		if conn != nil && ss.ctx.Err() == nil {
			ss.syncMu.Lock()
			// The message at to is new: a gap too long to catch up on
			// skips to just before it.
			skipped, err := ss.syncMailbox(conn, to, to-1)
			if err == nil && skipped {
				err = ss.convPages(conn, "")
			}
			ss.syncMu.Unlock()
			if err != nil {
				ss.sdk.log.Info("fill gap", "user", ss.userID, "err", imkit.ErrorMessage(err))
			}
		}
		ss.mu.Lock()
		if ss.fillTo == to || conn == nil || ss.ctx.Err() != nil {
			// Done; or the link is down, and the resume's sync fills it.
			ss.filling = false
			ss.mu.Unlock()
			return
		}
		ss.mu.Unlock()
	}
}

// syncMailbox fetches the messages after the mailbox cursor until the
// server has no more. A new device, or one more than CatchUpLimit behind
// maxSeq, first skips to skipTo, and reports it: its conversation list needs
// the server's. It asks even when the cursor is at maxSeq already: a
// message stored while the connection was being set up may have been
// neither counted in the login's maxSeq nor pushed.
func (ss *session) syncMailbox(conn *conn, maxSeq, skipTo uint64) (skipped bool, err error) {
	c := ss.sdk.cacheOf(ss.userID)
	if c == nil {
		return false, imkit.Errorf(imkit.ErrSDKNotLoggedIn, "not logged in")
	}
	after, ok, err := c.cursor(ss.ctx)
	if err != nil {
		return false, err
	}
	if !ok || maxSeq > after+CatchUpLimit {
		if after, err = ss.take(nil, nil, 0, skipTo); err != nil {
			return true, err
		}
		skipped = true
	}
	for {
		ctx, cancel := context.WithTimeout(ss.ctx, syncTimeout)
		var r protocol.SyncReply
		_, err := conn.roundTrip(ctx, protocol.OpSync, &protocol.SyncRequest{After: after, Limit: protocol.MaxPageSize}, &r)
		cancel()
		if err != nil {
			return skipped, err
		}
		msgs := make([]*Message, len(r.Msgs))
		complete := after // the reply holds every message after after up to its last
		for i := range r.Msgs {
			msgs[i] = fromWire(&r.Msgs[i])
			complete = max(complete, msgs[i].Seq)
		}
		if after, err = ss.take(msgs, sentHere, complete, 0); err != nil {
			return skipped, err
		}
		if !r.More || len(r.Msgs) == 0 {
			return skipped, nil
		}
	}
}

// convPages fetches the conversation list's pages from cursor on.
func (ss *session) convPages(conn *conn, cursor string) error {
	for page := 0; page < 1000 && ss.ctx.Err() == nil; page++ {
		next, err := ss.convPage(conn, cursor)
		if err != nil || next == "" {
			return err
		}
		cursor = next
	}
	return nil
}

// convPage takes one page of the server's conversation list, newest first,
// from cursor (""; the first): last messages, unread counts and read
// states changed on other instances meanwhile. It returns the next page's
// cursor, "" after the last.
func (ss *session) convPage(conn *conn, cursor string) (string, error) {
	c := ss.sdk.cacheOf(ss.userID)
	if c == nil {
		return "", imkit.Errorf(imkit.ErrSDKNotLoggedIn, "not logged in")
	}
	if cursor == "" {
		// A new pass over the list, begun before the server reads it: a
		// conversation a message makes meanwhile counts as listed.
		if err := c.beginPass(ss.ctx); err != nil {
			return "", err
		}
	}
	ctx, cancel := context.WithTimeout(ss.ctx, syncTimeout)
	var r protocol.ConvListReply
	_, err := conn.roundTrip(ctx, protocol.OpConvList, &protocol.ConvListRequest{Cursor: cursor, Limit: protocol.MaxPageSize}, &r)
	cancel()
	if err != nil {
		return "", err
	}
	convs := make([]*Conversation, len(r.Convs))
	for i := range r.Convs {
		w := &r.Convs[i]
		convs[i] = &Conversation{Peer: w.Peer, Unread: w.Unread, ConvSeq: w.ConvSeq, ReadSeq: w.ReadSeq, Time: timeMilli(w.Time)}
		if w.LastMessage != nil {
			convs[i].LastMessage = fromWire(w.LastMessage)
		}
	}
	gone, err := c.putPage(ss.ctx, page{convs: convs, first: cursor == "", total: r.TotalUnread, last: !r.More})
	if err != nil {
		return "", err
	}
	l := ss.sdk.cfg.Listener
	if f := l.OnConversationChanged; f != nil && len(convs) > 0 {
		ss.sdk.ev.post(func() { f(convs) })
	}
	if f := l.OnConversationDeleted; f != nil && len(gone) > 0 {
		ss.sdk.ev.post(func() { f(gone) })
	}
	if !r.More {
		return "", nil
	}
	return r.Next, nil
}
