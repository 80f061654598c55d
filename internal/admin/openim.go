package admin

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/message"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/protocol"
)

// States of query_online_status. imkit has no push channel, so an instance
// is Online while it is connected and the user is Offline otherwise; it
// never reports PushOnline.
const (
	stateOnline  = "Online"
	stateOffline = "Offline"
)

// StatePlatform returns the name of a platform in query_online_status'
// Detail: Tencent's names for that API ("iPhone", "Android", "Web", "PC",
// "iPad", "Mac"), with Windows as "PC"; Linux, which that list lacks, is
// "Linux".
func StatePlatform(p imkit.Platform) string {
	if p == imkit.PlatformWindows {
		return "PC"
	}
	return p.String()
}

type stateDetail struct {
	Platform string `json:"Platform"`
	Status   string `json:"Status"`
}

// stateResult is one account's state. query_online_status names the state
// State; its older name querystate names it Status.
type stateResult struct {
	ToAccount string        `json:"To_Account"`
	State     string        `json:"State,omitempty"`
	Status    string        `json:"Status,omitempty"`
	Detail    []stateDetail `json:"Detail,omitempty"`
}

type accountError struct {
	ToAccount string     `json:"To_Account"`
	ErrorCode imkit.Code `json:"ErrorCode"`
}

type stateReply struct {
	Envelope
	QueryResult []stateResult  `json:"QueryResult"`
	ErrorList   []accountError `json:"ErrorList"`
}

func (a *API) queryOnlineStatus(ctx context.Context, c *call) (any, error) {
	var r struct {
		ToAccount    []string `json:"To_Account"`
		IsNeedDetail int      `json:"IsNeedDetail"`
	}
	if err := c.decode(&r, idTypeCode); err != nil {
		return nil, err
	}
	if len(r.ToAccount) == 0 {
		return nil, imkit.Errorf(imkit.ErrSvrInvalidParameters, "To_Account is required")
	}
	if len(r.ToAccount) > MaxStateAccounts {
		return nil, imkit.Errorf(imkit.ErrSvrInvalidCount, "%d accounts in To_Account; at most %d", len(r.ToAccount), MaxStateAccounts)
	}
	if r.IsNeedDetail != 0 && r.IsNeedDetail != 1 {
		return nil, imkit.Errorf(imkit.ErrSvrInvalidParameters, "IsNeedDetail must be 0 or 1")
	}
	oldName := strings.HasSuffix(c.command, "/querystate")
	valid := make([]string, 0, len(r.ToAccount))
	for _, id := range r.ToAccount {
		if imkit.ValidateUserID(id) == nil {
			valid = append(valid, id)
		}
	}
	online := a.presence.Online(c.app.SDKAppID, valid)
	reply := &stateReply{QueryResult: []stateResult{}, ErrorList: []accountError{}}
	for _, id := range r.ToAccount {
		if err := imkit.ValidateUserID(id); err != nil {
			reply.ErrorList = append(reply.ErrorList, accountError{ToAccount: id, ErrorCode: imkit.ErrSvrInvalidParameters})
			continue
		}
		res := stateResult{ToAccount: id}
		state := stateOffline
		if ps := online[id]; len(ps) > 0 {
			state = stateOnline
			if r.IsNeedDetail == 1 {
				for _, p := range ps {
					res.Detail = append(res.Detail, stateDetail{Platform: StatePlatform(p), Status: stateOnline})
				}
			}
		} else {
			_, err := a.store.User(ctx, c.app.SDKAppID, id)
			if errors.Is(err, store.ErrNotFound) {
				reply.ErrorList = append(reply.ErrorList, accountError{ToAccount: id, ErrorCode: imkit.ErrSvrAccountNotFound})
				continue
			}
			if err != nil {
				return nil, internal("query state: load user", err)
			}
		}
		if oldName {
			res.Status = state
		} else {
			res.State = state
		}
		reply.QueryResult = append(reply.QueryResult, res)
	}
	return reply, nil
}

// MaxMsgLifeTime is the longest MsgLifeTime, 7 days in seconds.
const MaxMsgLifeTime = 7 * 24 * 3600

type sendMsgRequest struct {
	SyncOtherMachine *int            `json:"SyncOtherMachine"`
	FromAccount      string          `json:"From_Account"`
	ToAccount        *string         `json:"To_Account"`
	MsgSeq           *uint32         `json:"MsgSeq"`
	MsgRandom        *uint32         `json:"MsgRandom"`
	MsgLifeTime      *int64          `json:"MsgLifeTime"`
	MsgTimeStamp     *int64          `json:"MsgTimeStamp"`
	MsgBody          json.RawMessage `json:"MsgBody"`
}

type msgElem struct {
	MsgType    string          `json:"MsgType"`
	MsgContent json.RawMessage `json:"MsgContent"`
}

type msgContent struct {
	Text  *string `json:"Text"`
	Data  *string `json:"Data"`
	Desc  string  `json:"Desc"`
	Ext   string  `json:"Ext"`
	Sound string  `json:"Sound"`
}

type sendMsgReply struct {
	Envelope
	MsgTime int64  `json:"MsgTime"` // Unix seconds
	MsgKey  string `json:"MsgKey"`
}

func sendMsgTypeCode(field string) imkit.Code {
	switch field {
	case "To_Account":
		return imkit.ErrSvrMsgInvalidToAccount
	case "From_Account":
		return imkit.ErrSvrMsgInvalidID
	case "MsgRandom":
		return imkit.ErrSvrMsgInvalidRand
	case "MsgTimeStamp":
		return codeMsgInvalidTimestamp
	case "SyncOtherMachine":
		return codeMsgInvalidSyncOther
	case "MsgLifeTime":
		return codeMsgInvalidMsgLifeTime
	}
	return imkit.ErrSvrMsgInvalidBody
}

func (a *API) sendMsg(ctx context.Context, c *call) (any, error) {
	var r sendMsgRequest
	if err := c.decode(&r, sendMsgTypeCode); err != nil {
		return nil, err
	}
	if r.ToAccount == nil || *r.ToAccount == "" {
		return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidToAccount, "To_Account is required")
	}
	to := *r.ToAccount
	if err := imkit.ValidateUserID(to); err != nil {
		return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidToAccount, "To_Account: %s", imkit.ErrorMessage(err))
	}
	if r.MsgRandom == nil {
		return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidRand, "MsgRandom (a 32-bit unsigned integer) is required")
	}
	opts := message.SendOptions{}
	if r.SyncOtherMachine != nil {
		switch *r.SyncOtherMachine {
		case 1:
		case 2:
			opts.NoSenderPush = true
		default:
			return nil, imkit.Errorf(codeMsgInvalidSyncOther, "SyncOtherMachine must be 1 or 2")
		}
	}
	if r.MsgLifeTime != nil && (*r.MsgLifeTime < 0 || *r.MsgLifeTime > MaxMsgLifeTime) {
		return nil, imkit.Errorf(imkit.ErrSvrMsgTimeLimit, "MsgLifeTime is 0..%d seconds (7 days)", MaxMsgLifeTime)
	}
	elems, err := msgBody(r.MsgBody)
	if err != nil {
		return nil, err
	}
	from := r.FromAccount
	if from == "" {
		from = c.app.Admin
	} else if err := imkit.ValidateUserID(from); err != nil {
		return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidID, "From_Account: %s", imkit.ErrorMessage(err))
	}
	if from == to {
		return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidToAccount, "To_Account is the sender; C2C messages go to someone else")
	}
	if _, err := a.store.User(ctx, c.app.SDKAppID, to); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, imkit.Errorf(imkit.ErrSvrMsgAccountNotFound, "To_Account %q is not an account of this app", to)
		}
		return nil, internal("sendmsg: load receiver", err)
	}
	if from != c.app.Admin {
		if _, err := a.store.User(ctx, c.app.SDKAppID, from); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, imkit.Errorf(codeMsgAccountNotFound, "From_Account %q is not an account of this app", from)
			}
			return nil, internal("sendmsg: load sender", err)
		}
	}
	req := &protocol.SendRequest{
		To: to,
		// The same MsgRandom to the same receiver within one second is
		// a retry: it is stored once (Tencent's use of MsgRandom).
		// The time first: see protocol.SendRequest.
		ClientMsgID: "rest:" + strconv.FormatInt(c.now.Unix(), 10) + ":" + to + ":" + strconv.FormatUint(uint64(*r.MsgRandom), 10),
		Random:      *r.MsgRandom,
		Elems:       elems,
		// MsgLifeTime 0: online users only, nothing kept (Tencent's
		// meaning). imkit keeps other messages without expiry.
		OnlineOnly: r.MsgLifeTime != nil && *r.MsgLifeTime == 0,
	}
	m, err := a.messages.SendWith(ctx, c.app.SDKAppID, from, req, opts)
	if err != nil {
		switch imkit.ErrorCode(err) {
		case imkit.ErrInvalidMsgElem, imkit.ErrInvalidParameters:
			return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidBody, "MsgBody: %s", imkit.ErrorMessage(err))
		case imkit.ErrSvrMsgInvalidID:
			return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidToAccount, "%s", imkit.ErrorMessage(err))
		}
		return nil, err
	}
	return &sendMsgReply{MsgTime: m.Time / 1000, MsgKey: m.ID}, nil
}

// msgBody converts MsgBody (TIMTextElem and TIMCustomElem elements) to
// message elements.
func msgBody(raw json.RawMessage) ([]protocol.Elem, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidBody, "MsgBody is required")
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, imkit.Errorf(imkit.ErrSvrMsgBodyNotArray, "MsgBody must be an array of elements")
	}
	if len(list) == 0 {
		return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidBody, "MsgBody has no element")
	}
	if len(list) > protocol.MaxElems {
		return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidBody, "MsgBody has %d elements; at most %d", len(list), protocol.MaxElems)
	}
	elems := make([]protocol.Elem, 0, len(list))
	for i, b := range list {
		var e msgElem
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidBody, "MsgBody[%d] must be {\"MsgType\": ..., \"MsgContent\": {...}}", i)
		}
		var mc msgContent
		if err := json.Unmarshal(e.MsgContent, &mc); err != nil || len(e.MsgContent) == 0 || e.MsgContent[0] != '{' {
			return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidBody, "MsgBody[%d].MsgContent must be an object with string fields", i)
		}
		switch e.MsgType {
		case "TIMTextElem":
			if mc.Text == nil {
				return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidBody, "MsgBody[%d]: a TIMTextElem needs Text", i)
			}
			elems = append(elems, protocol.Elem{Type: protocol.ElemText, Text: *mc.Text})
		case "TIMCustomElem":
			if mc.Data == nil {
				return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidBody, "MsgBody[%d]: a TIMCustomElem needs Data", i)
			}
			// Sound names an offline-push sound; imkit has no push.
			elems = append(elems, protocol.Elem{Type: protocol.ElemCustom, Data: *mc.Data, Desc: mc.Desc, Ext: mc.Ext})
		default:
			return nil, imkit.Errorf(imkit.ErrSvrMsgInvalidFormat, "MsgBody[%d]: MsgType %q is not supported (TIMTextElem or TIMCustomElem)", i, clip(e.MsgType))
		}
	}
	return elems, nil
}
