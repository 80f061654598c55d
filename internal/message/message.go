// Package message is what login unlocks: one-to-one (C2C) messages and
// conversations. A message is validated, stored (batched with others into
// one transaction: group commit) and only then acknowledged to its sender
// and pushed to every online instance of the receiver and to the sender's
// other instances. Instances that were away catch up by sequence number
// (Sync); conversations carry the last message and the unread count.
package message

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/protocol"
)

// Store is the part of store.Store messages use.
type Store interface {
	AppendMessages(ctx context.Context, app uint64, msgs []*store.Message) error
	Sync(ctx context.Context, app uint64, owner string, after uint64, limit int) ([]store.Entry, uint64, error)
	MaxSeq(ctx context.Context, app uint64, owner string) (uint64, error)
	History(ctx context.Context, app uint64, owner, peer string, before uint64, limit int) ([]store.Entry, error)
	Conversations(ctx context.Context, app uint64, owner string, after store.Cursor, limit int) ([]store.Conversation, error)
	MarkRead(ctx context.Context, app uint64, owner, peer string, convSeq uint64) (store.Conversation, error)
	DeleteConversation(ctx context.Context, app uint64, owner, peer string) error
	UnreadTotal(ctx context.Context, app uint64, owner string) (int, error)
}

// Router delivers an encoded push frame to a user's live connections,
// wherever they are, except the connection of session except (empty: none).
// Deliver must not wait on the network: with several nodes it queues what
// goes to the other nodes (package redis), so that no send waits on Redis.
type Router interface {
	Deliver(ctx context.Context, app uint64, user string, frame []byte, except string)
}

// Config configures a Service. The zero value of every field but Store and
// Router works.
type Config struct {
	Store  Store
	Router Router
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Day returns the statistics day a message sent at t counts in; nil
	// means the UTC day.
	Day func(t time.Time) string
	// MaxBatch is the most messages stored in one transaction (default 256).
	MaxBatch int
	// Logger receives errors; nil discards.
	Logger *slog.Logger
}

// Service sends messages and serves mailboxes and conversations.
type Service struct {
	store    Store
	router   Router
	now      func() time.Time
	day      func(time.Time) string
	maxBatch int
	log      *slog.Logger

	queue       chan *pending
	stop        chan struct{}
	stopOnce    sync.Once
	done        chan struct{} // closed when the commit loop ends
	delivered   chan committed
	deliverDone chan struct{} // closed when the delivery loop ends
	keyBase     uint64
	keySeq      atomic.Uint64
	sent        atomic.Int64
}

// pending is a message waiting for its batch to commit.
type pending struct {
	app    uint64
	msg    store.Message
	except string // the sender's session: it gets the reply, not the push
	noPush bool   // stored but not pushed to the sender's other instances
	done   func(*store.Message, error)
}

// New returns a Service and starts its commit loop; Close stops it.
func New(cfg Config) *Service {
	s := &Service{
		store:    cfg.Store,
		router:   cfg.Router,
		now:      cfg.Now,
		day:      cfg.Day,
		maxBatch: cfg.MaxBatch,
		log:      cfg.Logger,
		queue:    make(chan *pending, 4096),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),

		delivered:   make(chan committed, 64),
		deliverDone: make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBatch <= 0 {
		s.maxBatch = 256
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var b [8]byte
	rand.Read(b[:])
	s.keyBase = binary.LittleEndian.Uint64(b[:]) >> 44 // 20 random bits per process
	go s.commitLoop()
	go s.deliverLoop()
	return s
}

// Close stores and acknowledges what is queued, then stops; later sends
// fail.
func (s *Service) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	<-s.deliverDone
}

// Sent returns how many messages were stored since the start.
func (s *Service) Sent() int64 { return s.sent.Load() }

// Submit validates a message from user from, queues it for storing, and
// calls done once it is stored (or failed), on the commit loop: done must
// not block. An online-only message (req.OnlineOnly) is stored nowhere: it
// is pushed, and done called, before Submit returns. session is the
// sender's session (it gets no push of its own message; empty for messages
// from the REST API). It returns an *imkit.Error at once when the message
// is invalid.
func (s *Service) Submit(app uint64, from, session string, req *protocol.SendRequest, done func(*store.Message, error)) error {
	return s.submit(app, from, session, req, SendOptions{}, done)
}

func (s *Service) submit(app uint64, from, session string, req *protocol.SendRequest, opts SendOptions, done func(*store.Message, error)) error {
	body, err := validate(from, req)
	if err != nil {
		return err
	}
	p := &pending{app: app, except: session, noPush: opts.NoSenderPush, done: done}
	p.msg = store.Message{
		ID:          s.newKey(req.Random),
		ClientMsgID: req.ClientMsgID,
		From:        from,
		To:          req.To,
		Random:      req.Random,
		Body:        body,
	}
	now := s.now()
	p.msg.Time = now.UnixMilli()
	if s.day != nil {
		p.msg.Day = s.day(now)
	}
	if p.msg.ClientMsgID == "" {
		p.msg.ClientMsgID = p.msg.ID
	}
	select {
	case <-s.stop:
		return imkit.Errorf(imkit.ErrSvrInternal, "the server is shutting down")
	default:
	}
	if req.OnlineOnly {
		// Nothing to store: push at once, seq 0, and answer. On the
		// caller's goroutine (a connection's read loop); the Router
		// queues what goes to other nodes.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.push(ctx, app, p)
		cancel()
		if done != nil {
			done(&p.msg, nil)
		}
		return nil
	}
	select {
	case s.queue <- p:
		return nil
	case <-s.stop:
		return imkit.Errorf(imkit.ErrSvrInternal, "the server is shutting down")
	}
}

// Send is Submit that waits for the message to be stored.
func (s *Service) Send(ctx context.Context, app uint64, from string, req *protocol.SendRequest) (*store.Message, error) {
	return s.SendWith(ctx, app, from, req, SendOptions{})
}

// SendOptions change how SendWith delivers a message.
type SendOptions struct {
	// NoSenderPush stores the message in the sender's mailbox as usual but
	// does not push it to the sender's online instances (the REST API's
	// SyncOtherMachine=2); they see it at their next sync or history read.
	NoSenderPush bool
}

// SendWith is Send with options.
func (s *Service) SendWith(ctx context.Context, app uint64, from string, req *protocol.SendRequest, opts SendOptions) (*store.Message, error) {
	type result struct {
		m   *store.Message
		err error
	}
	ch := make(chan result, 1)
	err := s.submit(app, from, "", req, opts, func(m *store.Message, err error) { ch <- result{m, err} })
	if err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.m, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// validate checks a send request and returns its body, the elements as JSON.
func validate(from string, req *protocol.SendRequest) ([]byte, error) {
	if err := imkit.ValidateUserID(req.To); err != nil {
		return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidID, "receiver: %s", imkit.ErrorMessage(err))
	}
	if req.To == from {
		return nil, imkit.Errorf(imkit.ErrInvalidParameters, "cannot send a C2C message to yourself")
	}
	if len(req.ClientMsgID) > protocol.MaxClientMsgIDLen {
		return nil, imkit.Errorf(imkit.ErrInvalidParameters, "clientMsgID is longer than %d bytes", protocol.MaxClientMsgIDLen)
	}
	if len(req.Elems) == 0 || len(req.Elems) > protocol.MaxElems {
		return nil, imkit.Errorf(imkit.ErrInvalidMsgElem, "a message has 1..%d elements, not %d", protocol.MaxElems, len(req.Elems))
	}
	size := 0
	for i, e := range req.Elems {
		switch e.Type {
		case protocol.ElemText:
			if e.Data != "" || e.Desc != "" || e.Ext != "" {
				return nil, imkit.Errorf(imkit.ErrInvalidMsgElem, "element %d: a text element has only text", i)
			}
		case protocol.ElemCustom:
			if e.Text != "" {
				return nil, imkit.Errorf(imkit.ErrInvalidMsgElem, "element %d: a custom element has data, desc and ext, not text", i)
			}
		default:
			return nil, imkit.Errorf(imkit.ErrInvalidMsgElem, "element %d: unknown type %q (want %q or %q)", i, e.Type, protocol.ElemText, protocol.ElemCustom)
		}
		size += len(e.Text) + len(e.Data) + len(e.Desc) + len(e.Ext)
	}
	if size > protocol.MaxMessageSize {
		return nil, imkit.Errorf(imkit.ErrSvrBodySizeLimit, "message body is %d bytes, more than %d", size, protocol.MaxMessageSize)
	}
	// What json.Marshal(req.Elems) gives; appendPush relies on it.
	return appendElems(make([]byte, 0, 32+size), req.Elems), nil
}

// newKey returns a message key in Tencent's MsgKey shape,
// "<random>_<sequence>_<unix seconds>", unique per process by its sequence
// and across processes by 20 random bits in it.
func (s *Service) newKey(random uint32) string {
	n := s.keyBase<<40 | s.keySeq.Add(1)&(1<<40-1)
	return strconv.FormatUint(uint64(random), 10) + "_" + strconv.FormatUint(n, 10) + "_" + strconv.FormatInt(s.now().Unix(), 10)
}

// commitLoop stores queued messages in batches: while one batch commits, the
// next gathers.
func (s *Service) commitLoop() {
	defer close(s.done)
	defer close(s.delivered)
	batch := make([]*pending, 0, s.maxBatch)
	for {
		select {
		case p := <-s.queue:
			batch = append(batch[:0], p)
		case <-s.stop:
			// Store what was accepted before stopping.
			for {
				select {
				case p := <-s.queue:
					s.commit([]*pending{p})
				default:
					return
				}
			}
		}
	gather:
		for len(batch) < s.maxBatch {
			select {
			case p := <-s.queue:
				batch = append(batch, p)
			default:
				break gather
			}
		}
		s.commit(batch)
	}
}

func (s *Service) commit(batch []*pending) {
	// Group by app: one transaction per app in the batch (usually one).
	for len(batch) > 0 {
		app := batch[0].app
		var same, rest []*pending
		for _, p := range batch {
			if p.app == app {
				same = append(same, p)
			} else {
				rest = append(rest, p)
			}
		}
		s.commitApp(app, same)
		batch = rest
	}
}

func (s *Service) commitApp(app uint64, batch []*pending) {
	msgs := make([]*store.Message, len(batch))
	for i, p := range batch {
		msgs[i] = &p.msg
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.store.AppendMessages(ctx, app, msgs)
	if err != nil {
		s.log.Error("store messages", "app", app, "n", len(msgs), "err", err)
		err = imkit.Errorf(imkit.ErrSvrInternal, "the message could not be stored; retry with the same clientMsgID")
	}
	// Replies and pushes are encoded and queued by the delivery loop, so
	// that the next batch commits meanwhile.
	s.delivered <- committed{app: app, batch: batch, err: err}
}

// committed is a batch the store has answered for.
type committed struct {
	app   uint64
	batch []*pending
	err   error
}

// deliverLoop acknowledges committed messages to their senders and pushes
// them to their receivers, batch after batch, in commit order: the whole
// batch's acknowledgements first, so that none waits on a push.
func (s *Service) deliverLoop() {
	defer close(s.deliverDone)
	for c := range s.delivered {
		for _, p := range c.batch {
			if c.err == nil && !p.msg.Dup {
				s.sent.Add(1)
			}
			if p.done != nil {
				p.done(&p.msg, c.err)
			}
		}
		if c.err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for _, p := range c.batch {
			if !p.msg.Dup {
				s.push(ctx, c.app, p)
			}
		}
		cancel()
	}
}

// push delivers a stored message to the receiver's instances and to the
// sender's other instances, each copy with its owner's mailbox seq.
func (s *Service) push(ctx context.Context, app uint64, p *pending) {
	m := &p.msg
	s.router.Deliver(ctx, app, m.To, appendPush(nil, m, m.ToSeq), "")
	if !p.noPush {
		s.router.Deliver(ctx, app, m.From, appendPush(nil, m, m.FromSeq), p.except)
	}
}

// Message is the wire form of a stored message; its elements stay the JSON
// they were stored as.
type Message struct {
	MsgID       string          `json:"msgID"`
	ClientMsgID string          `json:"clientMsgID"`
	From        string          `json:"from"`
	To          string          `json:"to"`
	Seq         uint64          `json:"seq"`
	ConvSeq     uint64          `json:"convSeq"`
	Time        int64           `json:"time"`
	Random      uint32          `json:"random,omitempty"`
	Elems       json.RawMessage `json:"elems"`
}

func wire(m *store.Message, seq uint64) *Message {
	return &Message{
		MsgID: m.ID, ClientMsgID: m.ClientMsgID, From: m.From, To: m.To,
		Seq: seq, ConvSeq: m.ConvSeq, Time: m.Time, Random: m.Random, Elems: m.Body,
	}
}

func wireEntries(es []store.Entry) []*Message {
	out := make([]*Message, len(es))
	for i := range es {
		out[i] = wire(&es[i].Message, es[i].Seq)
	}
	return out
}

// SyncReply, HistoryReply, Conversation and ConvListReply are the wire
// replies, with messages in their stored form.
type SyncReply struct {
	Msgs   []*Message `json:"msgs"`
	MaxSeq uint64     `json:"maxSeq"`
	More   bool       `json:"more,omitempty"`
}

// HistoryReply is the reply to OpHistory.
type HistoryReply struct {
	Msgs []*Message `json:"msgs"`
	More bool       `json:"more,omitempty"`
}

// Conversation is one entry of the conversation list.
type Conversation struct {
	Peer        string   `json:"peer"`
	LastMessage *Message `json:"lastMessage,omitempty"`
	Unread      int      `json:"unread"`
	ConvSeq     uint64   `json:"convSeq"`
	ReadSeq     uint64   `json:"readSeq"`
	Time        int64    `json:"time"`
}

// ConvListReply is the reply to OpConvList.
type ConvListReply struct {
	Convs       []Conversation `json:"convs"`
	Next        string         `json:"next,omitempty"`
	More        bool           `json:"more,omitempty"`
	TotalUnread *int           `json:"totalUnread,omitempty"`
}

func pageSize(n int) int {
	if n <= 0 || n > protocol.MaxPageSize {
		return protocol.MaxPageSize
	}
	return n
}

// Sync returns the messages of the user's mailbox after seq.
func (s *Service) Sync(ctx context.Context, app uint64, user string, after uint64, limit int) (*SyncReply, error) {
	limit = pageSize(limit)
	es, maxSeq, err := s.store.Sync(ctx, app, user, after, limit+1)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	r := &SyncReply{MaxSeq: maxSeq}
	if len(es) > limit {
		es, r.More = es[:limit], true
	}
	r.Msgs = wireEntries(es)
	return r, nil
}

// MaxSeq returns the newest seq of the user's mailbox.
func (s *Service) MaxSeq(ctx context.Context, app uint64, user string) (uint64, error) {
	return s.store.MaxSeq(ctx, app, user)
}

// History returns a conversation's messages before convSeq, newest first.
func (s *Service) History(ctx context.Context, app uint64, user, peer string, before uint64, limit int) (*HistoryReply, error) {
	if err := imkit.ValidateUserID(peer); err != nil {
		return nil, imkit.Errorf(imkit.ErrInvalidParameters, "peer: %s", imkit.ErrorMessage(err))
	}
	limit = pageSize(limit)
	es, err := s.store.History(ctx, app, user, peer, before, limit+1)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	r := &HistoryReply{}
	if len(es) > limit {
		es, r.More = es[:limit], true
	}
	r.Msgs = wireEntries(es)
	return r, nil
}

// Conversations returns a page of the user's conversation list, newest
// first; cursor is the previous page's Next.
func (s *Service) Conversations(ctx context.Context, app uint64, user, cursor string, limit int) (*ConvListReply, error) {
	after, err := parseCursor(cursor)
	if err != nil {
		return nil, err
	}
	limit = pageSize(limit)
	cs, err := s.store.Conversations(ctx, app, user, after, limit+1)
	if err != nil {
		return nil, fmt.Errorf("conversations: %w", err)
	}
	r := &ConvListReply{Convs: make([]Conversation, 0, len(cs))}
	if len(cs) > limit {
		cs, r.More = cs[:limit], true
	}
	for i := range cs {
		r.Convs = append(r.Convs, wireConv(&cs[i]))
	}
	if r.More {
		last := cs[len(cs)-1]
		r.Next = strconv.FormatInt(last.Time, 10) + ":" + last.Peer
	}
	if cursor == "" {
		n, err := s.store.UnreadTotal(ctx, app, user)
		if err != nil {
			return nil, fmt.Errorf("unread total: %w", err)
		}
		r.TotalUnread = &n
	}
	return r, nil
}

func wireConv(c *store.Conversation) Conversation {
	return Conversation{
		Peer: c.Peer, LastMessage: wire(&c.Last.Message, c.Last.Seq),
		Unread: c.Unread, ConvSeq: c.ConvSeq, ReadSeq: c.ReadSeq, Time: c.Time,
	}
}

func parseCursor(s string) (store.Cursor, error) {
	if s == "" {
		return store.Cursor{}, nil
	}
	t, peer, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(t, 10, 64)
	if !ok || err != nil || imkit.ValidateUserID(peer) != nil {
		return store.Cursor{}, imkit.Errorf(imkit.ErrInvalidParameters, "bad cursor %q", s)
	}
	return store.Cursor{Time: n, Peer: peer}, nil
}

// MarkRead marks the user's conversation with peer read up to convSeq (0:
// all) and tells the user's other instances (except session).
func (s *Service) MarkRead(ctx context.Context, app uint64, user, session, peer string, convSeq uint64) (*protocol.ConvRead, error) {
	if err := imkit.ValidateUserID(peer); err != nil {
		return nil, imkit.Errorf(imkit.ErrInvalidParameters, "peer: %s", imkit.ErrorMessage(err))
	}
	c, err := s.store.MarkRead(ctx, app, user, peer, convSeq)
	if errors.Is(err, store.ErrNotFound) {
		return nil, imkit.Errorf(imkit.ErrInvalidParameters, "no conversation with %q", peer)
	}
	if err != nil {
		return nil, fmt.Errorf("mark read: %w", err)
	}
	r := &protocol.ConvRead{Peer: peer, ReadSeq: c.ReadSeq, Unread: c.Unread}
	if f, err := protocol.AppendPush(nil, protocol.PushConvRead, r); err == nil {
		s.router.Deliver(ctx, app, user, f, session)
	}
	return r, nil
}

// DeleteConversation deletes the user's conversation with peer, for the
// user only, and tells the user's other instances (except session).
func (s *Service) DeleteConversation(ctx context.Context, app uint64, user, session, peer string) error {
	if err := imkit.ValidateUserID(peer); err != nil {
		return imkit.Errorf(imkit.ErrInvalidParameters, "peer: %s", imkit.ErrorMessage(err))
	}
	err := s.store.DeleteConversation(ctx, app, user, peer)
	if errors.Is(err, store.ErrNotFound) {
		return imkit.Errorf(imkit.ErrInvalidParameters, "no conversation with %q", peer)
	}
	if err != nil {
		return fmt.Errorf("delete conversation: %w", err)
	}
	if f, err := protocol.AppendPush(nil, protocol.PushConvDel, &protocol.ConvDel{Peer: peer}); err == nil {
		s.router.Deliver(ctx, app, user, f, session)
	}
	return nil
}
