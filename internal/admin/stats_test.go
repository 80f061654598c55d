package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/restapi"
)

// waitCount waits up to 10s until n events with the prefix were recorded.
func (c *client) waitCount(prefix string, n int) {
	c.t.Helper()
	imkittest.Eventually(c.t, "events "+prefix, func() bool {
		k := 0
		for _, e := range c.events() {
			if strings.HasPrefix(e, prefix) {
				k++
			}
		}
		return k >= n
	})
}

func TestGetAppInfoShape(t *testing.T) {
	srv := imkittest.RunServer(t)
	r := newREST(t, srv)
	got := r.post("openconfigsvr/getappinfo", `{}`)
	if got["ErrorCode"] != 0.0 || got["ErrorInfo"] != "OK" {
		t.Fatalf("getappinfo: %v, want ErrorCode 0 and ErrorInfo OK", got)
	}
	days := got["Result"].([]any)
	if len(days) != 30 {
		t.Fatalf("Result has %d days, want 30", len(days))
	}
	today := time.Now().UTC().Format("20060102")
	last := days[29].(map[string]any)
	if last["Date"] != today {
		t.Errorf("the last day is %v, want today %s", last["Date"], today)
	}
	for _, f := range []string{"AppId", "ActiveUserNum", "LoginUserNum", "LoginTimes", "MaxOnlineNum",
		"RegistUserNumOneDay", "RegistUserNumTotal", "UpMsgNum", "C2CUpMsgNum", "SendMsgUserNum", "C2CSendMsgUserNum"} {
		if _, ok := last[f].(string); !ok {
			t.Errorf("field %s is %#v, want a string", f, last[f])
		}
	}
	if last["AppId"] != "1400000001" {
		t.Errorf("AppId = %v", last["AppId"])
	}
	// RequestField picks fields (Date always comes along).
	got = r.post("openconfigsvr/getappinfo", `{"RequestField":["LoginTimes","ChainIncrease"]}`)
	sameJSON(t, "RequestField", got["Result"].([]any)[29], `{"Date":"`+today+`","LoginTimes":"0"}`)
	if got := r.code("openconfigsvr/getappinfo", `{"RequestField":"LoginTimes"}`); got != imkit.ErrSvrInvalidParameters {
		t.Errorf("RequestField not an array: code %d, want 70402", got)
	}
}

// TestDailyAndMonthlyActiveUsers runs a server on a clock the test moves
// over three days across a month boundary: repeat logins count the user
// once a day; resumes after a restart are no logins.
func TestDailyAndMonthlyActiveUsers(t *testing.T) {
	clock := imkittest.NewClock(time.Date(2031, 1, 30, 10, 0, 0, 0, time.UTC))
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) {
		c.Now = clock.Now
		c.StatsInterval = 10 * time.Millisecond
	}))
	sign := func(user string) string { return imkittest.SignAt(t, user, clock.Now(), 30*24*time.Hour) }
	api := restapi.NewClientWithSig(srv.URL, imkittest.SDKAppID, imkittest.Admin, func(context.Context) (string, error) {
		return sign(imkittest.Admin), nil
	})
	ctx := t.Context()
	stats := func() map[string]restapi.DayStats {
		t.Helper()
		info, err := api.AppInfo(ctx)
		if err != nil {
			t.Fatalf("AppInfo: %v", err)
		}
		out := make(map[string]restapi.DayStats)
		for _, d := range info.Days {
			out[d.Date] = d
		}
		return out
	}

	// Day 1: alice on two platforms, bob twice (logout in between).
	alice1 := newClient(t, srv, imkit.PlatformAndroid)
	alice1.loginSig("alice", sign("alice"))
	alice2 := newClient(t, srv, imkit.PlatformWeb)
	alice2.loginSig("alice", sign("alice"))
	bob := newClient(t, srv, imkit.PlatformIPhone)
	bob.loginSig("bob", sign("bob"))
	if err := bob.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	bob.loginSig("bob", sign("bob"))
	// The peak of (at least) 3 online is recorded for day 1; 4 when bob's
	// old connection was not yet gone when his new one came.
	imkittest.Eventually(t, "peak online recorded", func() bool { return stats()["20310130"].PeakOnline >= 3 })
	peak := stats()["20310130"].PeakOnline

	// A restart: every instance resumes on its own; no login is counted.
	srv.Restart()
	for _, c := range []*client{alice1, alice2, bob} {
		c.waitCount("connected", 2)
	}
	if got, want := stats()["20310130"], (restapi.DayStats{Date: "20310130", ActiveUsers: 2, Logins: 4, PeakOnline: peak, NewUsers: 2, TotalUsers: 2}); got != want {
		t.Errorf("day 1 = %+v, want %+v", got, want)
	}

	// Day 2: alice again (a new instance); carol imported.
	clock.Set(time.Date(2031, 1, 31, 9, 0, 0, 0, time.UTC))
	alice3 := newClient(t, srv, imkit.PlatformWindows)
	alice3.loginSig("alice", sign("alice"))
	if err := api.ImportAccount(ctx, restapi.Account{UserID: "carol"}); err != nil {
		t.Fatal(err)
	}

	// Day 3, a new month: bob and carol.
	clock.Set(time.Date(2031, 2, 1, 0, 0, 1, 0, time.UTC))
	bob2 := newClient(t, srv, imkit.PlatformMac)
	bob2.loginSig("bob", sign("bob"))
	carol := newClient(t, srv, imkit.PlatformWeb)
	carol.loginSig("carol", sign("carol"))
	carol.loginSig("carol", sign("carol")) // a repeat Login of a logged-in user changes nothing

	s := stats()
	for _, tt := range []struct {
		day                                  string
		active, logins, newUsers, totalUsers int
	}{
		{"20310130", 2, 4, 2, 2},
		{"20310131", 1, 1, 1, 3},
		{"20310201", 2, 2, 0, 3},
		{"20310129", 0, 0, 0, 0},
	} {
		d := s[tt.day]
		if d.ActiveUsers != tt.active || d.Logins != tt.logins || d.NewUsers != tt.newUsers || d.TotalUsers != tt.totalUsers {
			t.Errorf("%s: DAU %d, logins %d, new %d, total %d; want %d, %d, %d, %d", tt.day,
				d.ActiveUsers, d.Logins, d.NewUsers, d.TotalUsers, tt.active, tt.logins, tt.newUsers, tt.totalUsers)
		}
	}
	if s["20310201"].PeakOnline < 3 {
		t.Errorf("day 3 peak online = %d, want at least 3", s["20310201"].PeakOnline)
	}

	info, err := api.AppInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Days) != 30 || info.Days[0].Date != "20310103" || info.Days[29].Date != "20310201" {
		t.Errorf("days %s..%s (%d), want the 30 days 20310103..20310201", info.Days[0].Date, info.Days[len(info.Days)-1].Date, len(info.Days))
	}
	want := []restapi.MonthStats{{Month: "203101", ActiveUsers: 2}, {Month: "203102", ActiveUsers: 2}}
	if len(info.Months) != 2 || info.Months[0] != want[0] || info.Months[1] != want[1] {
		t.Errorf("months = %+v, want %+v", info.Months, want)
	}
}
