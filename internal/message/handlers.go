package message

import (
	"github.com/imkit/imkit/internal/gateway"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/protocol"
)

// Register adds the message and conversation ops to a gateway.
func (s *Service) Register(g *gateway.Gateway) {
	g.Handle(protocol.OpSend, s.handleSend)
	g.Handle(protocol.OpSync, s.handleSync)
	g.Handle(protocol.OpHistory, s.handleHistory)
	g.Handle(protocol.OpConvList, s.handleConvList)
	g.Handle(protocol.OpConvRead, s.handleConvRead)
	g.Handle(protocol.OpConvDel, s.handleConvDel)
}

func (s *Service) handleSend(c *gateway.Conn, f *protocol.Frame) {
	var req protocol.SendRequest
	if !decodeSend(f.Data, &req) {
		req = protocol.SendRequest{}
		if err := protocol.DecodeData(f.Data, &req); err != nil {
			c.ReplyError(f.ID, err)
			return
		}
	}
	sess, id := c.Session(), f.ID
	err := s.Submit(sess.App, sess.UserID, sess.ID, &req, func(m *store.Message, err error) {
		if err != nil {
			c.ReplyErr(id, "send", err)
			return
		}
		c.Reply(id, sendReply(m)) // protocol.SendReply
	})
	if err != nil {
		c.ReplyErr(id, "send", err)
	}
}

func (s *Service) handleSync(c *gateway.Conn, f *protocol.Frame) {
	var req protocol.SyncRequest
	if err := protocol.DecodeData(f.Data, &req); err != nil {
		c.ReplyError(f.ID, err)
		return
	}
	sess := c.Session()
	r, err := s.Sync(c.Context(), sess.App, sess.UserID, req.After, req.Limit)
	if err != nil {
		c.ReplyErr(f.ID, "sync", err)
		return
	}
	c.Reply(f.ID, r)
}

func (s *Service) handleHistory(c *gateway.Conn, f *protocol.Frame) {
	var req protocol.HistoryRequest
	if err := protocol.DecodeData(f.Data, &req); err != nil {
		c.ReplyError(f.ID, err)
		return
	}
	sess := c.Session()
	r, err := s.History(c.Context(), sess.App, sess.UserID, req.Peer, req.Before, req.Limit)
	if err != nil {
		c.ReplyErr(f.ID, "history", err)
		return
	}
	c.Reply(f.ID, r)
}

func (s *Service) handleConvList(c *gateway.Conn, f *protocol.Frame) {
	var req protocol.ConvListRequest
	if err := protocol.DecodeData(f.Data, &req); err != nil {
		c.ReplyError(f.ID, err)
		return
	}
	sess := c.Session()
	r, err := s.Conversations(c.Context(), sess.App, sess.UserID, req.Cursor, req.Limit)
	if err != nil {
		c.ReplyErr(f.ID, "conversations", err)
		return
	}
	c.Reply(f.ID, r)
}

func (s *Service) handleConvRead(c *gateway.Conn, f *protocol.Frame) {
	var req protocol.ConvReadRequest
	if err := protocol.DecodeData(f.Data, &req); err != nil {
		c.ReplyError(f.ID, err)
		return
	}
	sess := c.Session()
	r, err := s.MarkRead(c.Context(), sess.App, sess.UserID, sess.ID, req.Peer, req.ConvSeq)
	if err != nil {
		c.ReplyErr(f.ID, "mark read", err)
		return
	}
	c.Reply(f.ID, r)
}

func (s *Service) handleConvDel(c *gateway.Conn, f *protocol.Frame) {
	var req protocol.ConvDel
	if err := protocol.DecodeData(f.Data, &req); err != nil {
		c.ReplyError(f.ID, err)
		return
	}
	sess := c.Session()
	if err := s.DeleteConversation(c.Context(), sess.App, sess.UserID, sess.ID, req.Peer); err != nil {
		c.ReplyErr(f.ID, "delete conversation", err)
		return
	}
	c.Reply(f.ID, &req)
}
