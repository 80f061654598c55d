package admin

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Fields of getappinfo's Result that imkit reports, with Tencent's names.
// The others (group, push, relationship chain, callback and downstream
// counters, AppName, Company) are left out: imkit has no such data.
var statFields = []string{
	"AppId", "Date",
	"ActiveUserNum", "LoginUserNum", "LoginTimes", "MaxOnlineNum",
	"RegistUserNumOneDay", "RegistUserNumTotal",
	"UpMsgNum", "C2CUpMsgNum", "SendMsgUserNum", "C2CSendMsgUserNum",
}

type monthResult struct {
	Month         string `json:"Month"`         // "200601"
	ActiveUserNum string `json:"ActiveUserNum"` // distinct users who logged in (MAU)
}

type appInfoReply struct {
	Envelope
	// Result holds one entry per day, oldest first, for the last 30 days
	// (today included); every value is a string, as in Tencent's API.
	Result []map[string]string `json:"Result"`
	// MonthResult (an imkit extension) holds the monthly active users of
	// the months those days fall in, oldest first.
	MonthResult []monthResult `json:"MonthResult"`
}

func (a *API) getAppInfo(ctx context.Context, c *call) (any, error) {
	var r struct {
		RequestField []string `json:"RequestField"`
	}
	if err := c.decode(&r, nil); err != nil {
		return nil, err
	}
	want := map[string]bool{"Date": true}
	for _, f := range r.RequestField {
		want[f] = true
	}
	all := len(r.RequestField) == 0

	const layout = "2006-01-02"
	today, err := time.Parse(layout, a.sessions.Day(c.now))
	if err != nil {
		return nil, internal("getappinfo: today", err)
	}
	first := today.AddDate(0, 0, -(StatsDays - 1))
	// Count registrations from the app's first day, for the running total.
	from := first
	if created, err := time.Parse(layout, a.sessions.Day(c.app.CreatedAt)); err == nil && created.Before(first) {
		from = created
	}
	days, err := a.store.DayStats(ctx, c.app.SDKAppID, from.Format(layout), today.Format(layout))
	if err != nil {
		return nil, internal("getappinfo: day stats", err)
	}
	reply := &appInfoReply{Result: make([]map[string]string, 0, StatsDays), MonthResult: []monthResult{}}
	reply.ErrorInfo = "OK"
	appID := strconv.FormatUint(c.app.SDKAppID, 10)
	firstDay := first.Format(layout)
	total := 0
	for _, d := range days {
		total += d.NewUsers
		if d.Day < firstDay {
			continue
		}
		n := strconv.Itoa
		v := map[string]string{
			"AppId":               appID,
			"Date":                strings.ReplaceAll(d.Day, "-", ""),
			"ActiveUserNum":       n(d.ActiveUsers),
			"LoginUserNum":        n(d.ActiveUsers),
			"LoginTimes":          n(d.Logins),
			"MaxOnlineNum":        n(d.PeakOnline),
			"RegistUserNumOneDay": n(d.NewUsers),
			"RegistUserNumTotal":  n(total),
			"UpMsgNum":            n(d.Messages),
			"C2CUpMsgNum":         n(d.Messages),
			"SendMsgUserNum":      n(d.Senders),
			"C2CSendMsgUserNum":   n(d.Senders),
		}
		if !all {
			for k := range v {
				if !want[k] {
					delete(v, k)
				}
			}
		}
		reply.Result = append(reply.Result, v)
	}
	for m := time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(today); m = m.AddDate(0, 1, 0) {
		n, err := a.store.MonthActiveUsers(ctx, c.app.SDKAppID, m.Format("2006-01"))
		if err != nil {
			return nil, internal("getappinfo: month active users", err)
		}
		reply.MonthResult = append(reply.MonthResult, monthResult{Month: m.Format("200601"), ActiveUserNum: strconv.Itoa(n)})
	}
	return reply, nil
}
