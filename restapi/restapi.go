// Package restapi is a Go client for the admin REST API of imkit, which is
// Tencent Cloud Chat's REST API v4 (the subset imkit serves) plus imkit's
// own /v4/imkit/ endpoints. It should also work against Tencent's servers for
// the endpoints they share.
//
// Every call is signed as the app's admin: NewClient signs tickets with the
// app's secret key, NewClientWithSig asks a function of yours. API errors
// are *imkit.Error values carrying the REST ErrorCode; use errors.As.
//
//	c := restapi.NewClient("http://127.0.0.1:8080", sdkAppID, "administrator", key)
//	err := c.ImportAccount(ctx, restapi.Account{UserID: "alice", Nick: "Alice"})
package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/usersig"
)

// Client calls one app's REST API as its admin.
type Client struct {
	// HTTPClient sends the requests; nil uses http.DefaultClient.
	HTTPClient *http.Client

	base     string
	sdkAppID uint64
	admin    string
	sig      func(ctx context.Context) (string, error)
}

// ticketLife is how long the tickets NewClient signs are valid; they are
// re-signed after half of it.
const ticketLife = 24 * time.Hour

// NewClient returns a client of the server at baseURL (e.g.
// "http://127.0.0.1:8080") that signs the admin's tickets with the app's
// secret key.
func NewClient(baseURL string, sdkAppID uint64, admin, key string) *Client {
	var (
		mu     sync.Mutex
		sig    string
		signed time.Time
	)
	return NewClientWithSig(baseURL, sdkAppID, admin, func(context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if sig == "" || time.Since(signed) > ticketLife/2 {
			s, err := usersig.Sign(sdkAppID, key, admin, ticketLife)
			if err != nil {
				return "", err
			}
			sig, signed = s, time.Now()
		}
		return sig, nil
	})
}

// NewClientWithSig returns a client that asks sig for the admin's UserSig
// before each call (sig may cache it).
func NewClientWithSig(baseURL string, sdkAppID uint64, admin string, sig func(ctx context.Context) (string, error)) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), sdkAppID: sdkAppID, admin: admin, sig: sig}
}

// Envelope is the part of every reply that says how the call went.
type Envelope struct {
	ActionStatus string     `json:"ActionStatus"`
	ErrorInfo    string     `json:"ErrorInfo"`
	ErrorCode    imkit.Code `json:"ErrorCode"`
}

// maxReply bounds a reply body.
const maxReply = 16 << 20

// Call POSTs req (marshalled to JSON; nil sends {}) to /v4/<command>, e.g.
// "im_open_login_svc/account_import", and decodes the reply into reply (may
// be nil). A reply with a non-zero ErrorCode is an *imkit.Error.
func (c *Client) Call(ctx context.Context, command string, req, reply any) error {
	sig, err := c.sig(ctx)
	if err != nil {
		return fmt.Errorf("restapi: sign the admin's ticket: %w", err)
	}
	body := []byte("{}")
	if req != nil {
		if body, err = json.Marshal(req); err != nil {
			return fmt.Errorf("restapi: %s: encode request: %w", command, err)
		}
	}
	q := url.Values{}
	q.Set("sdkappid", strconv.FormatUint(c.sdkAppID, 10))
	q.Set("identifier", c.admin)
	q.Set("usersig", sig)
	q.Set("random", strconv.FormatUint(uint64(rand.Uint32()), 10))
	q.Set("contenttype", "json")
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v4/"+command+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("restapi: %s: %v", command, stripURL(err))
	}
	hr.Header.Set("Content-Type", "application/json")
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hr)
	if err != nil {
		// The URL holds the ticket: keep it out of the error.
		return fmt.Errorf("restapi: %s: %w", command, stripURL(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return fmt.Errorf("restapi: %s: read reply: %w", command, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("restapi: %s: HTTP status %d", command, resp.StatusCode)
	}
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("restapi: %s: the reply is not JSON: %w", command, err)
	}
	if env.ErrorCode != imkit.OK || env.ActionStatus == "FAIL" {
		code := env.ErrorCode
		if code == imkit.OK {
			code = imkit.ErrSvrInternal
		}
		return &imkit.Error{Code: code, Message: env.ErrorInfo}
	}
	if reply != nil {
		if err := json.Unmarshal(b, reply); err != nil {
			return fmt.Errorf("restapi: %s: decode reply: %w", command, err)
		}
	}
	return nil
}

func stripURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// Account is a user account with its profile.
type Account struct {
	UserID  string `json:"UserID"`
	Nick    string `json:"Nick,omitempty"`
	FaceURL string `json:"FaceUrl,omitempty"`
}

// ImportAccount creates an account, or updates its Nick and FaceUrl
// (account_import).
func (c *Client) ImportAccount(ctx context.Context, a Account) error {
	return c.Call(ctx, "im_open_login_svc/account_import", a, nil)
}

// ImportAccounts creates or updates up to 100 accounts
// (multiaccount_import) and returns the UserIDs that failed.
func (c *Client) ImportAccounts(ctx context.Context, accounts []Account) (failed []string, err error) {
	var r struct {
		FailAccounts []string `json:"FailAccounts"`
	}
	err = c.Call(ctx, "im_open_login_svc/multiaccount_import", struct {
		AccountList []Account `json:"AccountList"`
	}{accounts}, &r)
	return r.FailAccounts, err
}

// Result is the outcome for one account of a batch call.
type Result struct {
	UserID string     `json:"UserID"`
	Code   imkit.Code `json:"ResultCode"`
	Info   string     `json:"ResultInfo"`
	// AccountStatus is "Imported" or "NotImported" (CheckAccounts only).
	AccountStatus string `json:"AccountStatus,omitempty"`
}

type userItem struct {
	UserID string `json:"UserID"`
}

func userItems(ids []string) []userItem {
	out := make([]userItem, len(ids))
	for i, id := range ids {
		out[i].UserID = id
	}
	return out
}

// DeleteAccounts deletes up to 100 accounts (account_delete); an unknown
// account's Result has code 70107.
func (c *Client) DeleteAccounts(ctx context.Context, userIDs []string) ([]Result, error) {
	var r struct {
		ResultItem []Result `json:"ResultItem"`
	}
	err := c.Call(ctx, "im_open_login_svc/account_delete", struct {
		DeleteItem []userItem `json:"DeleteItem"`
	}{userItems(userIDs)}, &r)
	return r.ResultItem, err
}

// CheckAccounts tells whether up to 100 accounts exist (account_check).
func (c *Client) CheckAccounts(ctx context.Context, userIDs []string) ([]Result, error) {
	var r struct {
		ResultItem []Result `json:"ResultItem"`
	}
	err := c.Call(ctx, "im_open_login_svc/account_check", struct {
		CheckItem []userItem `json:"CheckItem"`
	}{userItems(userIDs)}, &r)
	return r.ResultItem, err
}

// Kick ends every session of a user and invalidates the tickets signed
// before now (kick); 70107 when the user is unknown.
func (c *Client) Kick(ctx context.Context, userID string) error {
	return c.Call(ctx, "im_open_login_svc/kick", userItem{userID}, nil)
}

// UserState is one account's online state.
type UserState struct {
	UserID string `json:"To_Account"`
	// State is "Online" or "Offline" (Tencent also has "PushOnline").
	State  string          `json:"State"`
	Detail []PlatformState `json:"Detail,omitempty"`
}

// PlatformState is the state of one instance.
type PlatformState struct {
	Platform string `json:"Platform"`
	Status   string `json:"Status"`
}

// AccountError is an account a batch call could not handle.
type AccountError struct {
	UserID string     `json:"To_Account"`
	Code   imkit.Code `json:"ErrorCode"`
}

// OnlineStatus is the reply of query_online_status.
type OnlineStatus struct {
	QueryResult []UserState    `json:"QueryResult"`
	ErrorList   []AccountError `json:"ErrorList"`
}

// QueryOnlineStatus returns the states of up to 500 accounts, with the
// platforms of their online instances when detail is set
// (query_online_status).
func (c *Client) QueryOnlineStatus(ctx context.Context, userIDs []string, detail bool) (*OnlineStatus, error) {
	req := struct {
		ToAccount    []string `json:"To_Account"`
		IsNeedDetail int      `json:"IsNeedDetail,omitempty"`
	}{ToAccount: userIDs}
	if detail {
		req.IsNeedDetail = 1
	}
	var r OnlineStatus
	if err := c.Call(ctx, "openim/query_online_status", req, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Elem is a message element: a TIMTextElem (Text) or a TIMCustomElem
// (Data, Desc, Ext, Sound).
type Elem struct {
	MsgType    string      `json:"MsgType"`
	MsgContent ElemContent `json:"MsgContent"`
}

// ElemContent is an element's content.
type ElemContent struct {
	Text  string `json:"Text,omitempty"`
	Data  string `json:"Data,omitempty"`
	Desc  string `json:"Desc,omitempty"`
	Ext   string `json:"Ext,omitempty"`
	Sound string `json:"Sound,omitempty"`
}

// Text returns a TIMTextElem.
func Text(s string) Elem {
	return Elem{MsgType: "TIMTextElem", MsgContent: ElemContent{Text: s}}
}

// Custom returns a TIMCustomElem.
func Custom(data, desc, ext string) Elem {
	return Elem{MsgType: "TIMCustomElem", MsgContent: ElemContent{Data: data, Desc: desc, Ext: ext}}
}

// Message is a C2C message to send (sendmsg).
type Message struct {
	// From is the sender; empty sends as the admin.
	From string `json:"From_Account,omitempty"`
	To   string `json:"To_Account"`
	// Random is the message's random number; a resend with the same one
	// within the same second is stored once.
	Random uint32 `json:"MsgRandom"`
	Body   []Elem `json:"MsgBody"`
	// SyncOtherMachine: 1 (or 0: unset) shows the message on the sender's
	// online instances; 2 does not push it to them.
	SyncOtherMachine int `json:"SyncOtherMachine,omitempty"`
	// MsgLifeTime, when set, is the offline lifetime in seconds (0..604800).
	MsgLifeTime *int `json:"MsgLifeTime,omitempty"`
}

// Sent is the reply of sendmsg.
type Sent struct {
	MsgTime int64  `json:"MsgTime"` // Unix seconds
	MsgKey  string `json:"MsgKey"`
}

// SendMsg sends a C2C message.
func (c *Client) SendMsg(ctx context.Context, m *Message) (*Sent, error) {
	var r Sent
	if err := c.Call(ctx, "openim/sendmsg", m, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// DayStats are one day's statistics (getappinfo's Result, as numbers).
type DayStats struct {
	Date        string // "20060102"
	ActiveUsers int    // ActiveUserNum: distinct users who logged in (DAU)
	Logins      int    // LoginTimes
	PeakOnline  int    // MaxOnlineNum
	NewUsers    int    // RegistUserNumOneDay
	TotalUsers  int    // RegistUserNumTotal
	Messages    int    // C2CUpMsgNum
	Senders     int    // C2CSendMsgUserNum
}

// MonthStats are one month's statistics.
type MonthStats struct {
	Month       string // "200601"
	ActiveUsers int    // distinct users who logged in (MAU)
}

// AppInfo is the reply of getappinfo.
type AppInfo struct {
	Days   []DayStats   // the last 30 days, oldest first
	Months []MonthStats // the months of those days, oldest first
}

// AppInfo returns the app's statistics of the last 30 days (getappinfo).
func (c *Client) AppInfo(ctx context.Context) (*AppInfo, error) {
	var r struct {
		Result      []map[string]string `json:"Result"`
		MonthResult []map[string]string `json:"MonthResult"`
	}
	if err := c.Call(ctx, "openconfigsvr/getappinfo", nil, &r); err != nil {
		return nil, err
	}
	n := func(m map[string]string, k string) int {
		v, _ := strconv.Atoi(m[k])
		return v
	}
	out := &AppInfo{}
	for _, d := range r.Result {
		out.Days = append(out.Days, DayStats{
			Date: d["Date"], ActiveUsers: n(d, "ActiveUserNum"), Logins: n(d, "LoginTimes"),
			PeakOnline: n(d, "MaxOnlineNum"), NewUsers: n(d, "RegistUserNumOneDay"),
			TotalUsers: n(d, "RegistUserNumTotal"), Messages: n(d, "C2CUpMsgNum"), Senders: n(d, "C2CSendMsgUserNum"),
		})
	}
	for _, m := range r.MonthResult {
		out.Months = append(out.Months, MonthStats{Month: m["Month"], ActiveUsers: n(m, "ActiveUserNum")})
	}
	return out, nil
}

// Policy is an app's login settings (imkit's own endpoints).
type Policy struct {
	// LoginPolicy is "single", "dual", "triple" or "multi".
	LoginPolicy string `json:"LoginPolicy"`
	// MaxInstances is the most instances per platform ("Android", "iPhone",
	// "iPad", "Windows", "Mac", "Linux", "Web").
	MaxInstances map[string]int `json:"MaxInstances"`
	// WebhookURL receives the state-change callbacks; "" for none.
	WebhookURL string `json:"WebhookURL"`
}

// Policy returns the app's login policy, limits and webhook URL
// (imkit/app_policy_get).
func (c *Client) Policy(ctx context.Context) (*Policy, error) {
	var p Policy
	if err := c.Call(ctx, "imkit/app_policy_get", nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// SetPolicy changes the login policy (when not "") and the instance limits
// of the platforms in maxInstances (others keep theirs), and returns the
// result (imkit/app_policy_set). The change applies to the next logins.
func (c *Client) SetPolicy(ctx context.Context, policy string, maxInstances map[string]int) (*Policy, error) {
	req := struct {
		LoginPolicy  string         `json:"LoginPolicy,omitempty"`
		MaxInstances map[string]int `json:"MaxInstances,omitempty"`
	}{policy, maxInstances}
	var p Policy
	if err := c.Call(ctx, "imkit/app_policy_set", req, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// SetWebhook sets the URL that receives state-change callbacks; ""
// turns them off (imkit/app_webhook_set).
func (c *Client) SetWebhook(ctx context.Context, webhookURL string) (*Policy, error) {
	var p Policy
	if err := c.Call(ctx, "imkit/app_webhook_set", struct {
		WebhookURL string `json:"WebhookURL"`
	}{webhookURL}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}
