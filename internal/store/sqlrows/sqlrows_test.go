package sqlrows_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlrows"
)

func TestLimits(t *testing.T) {
	for _, m := range []map[imkit.Platform]int{nil, {imkit.PlatformWeb: 10}, {imkit.PlatformAndroid: 3, imkit.PlatformWeb: 2, imkit.PlatformMac: 1}} {
		s := sqlrows.FormatLimits(m)
		got, err := sqlrows.ParseLimits(s)
		if err != nil {
			t.Fatalf("ParseLimits(%q): %v", s, err)
		}
		if len(m) == 0 && len(got) == 0 {
			continue
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("round trip of %v through %q (-want +got):\n%s", m, s, diff)
		}
	}
	if got := sqlrows.FormatLimits(map[imkit.Platform]int{imkit.PlatformWeb: 10, imkit.PlatformAndroid: 3}); got != "1=3,7=10" {
		t.Errorf("FormatLimits = %q, want 1=3,7=10", got)
	}
	for _, bad := range []string{"x", "1=", "=3", "1=3,", "300=1"} {
		if _, err := sqlrows.ParseLimits(bad); err == nil {
			t.Errorf("ParseLimits(%q) accepted it", bad)
		}
	}
}

func TestDays(t *testing.T) {
	got, err := sqlrows.Days("2031-01-30", "2031-02-01", map[string]store.DayStats{"2031-01-31": {Day: "2031-01-31", Logins: 2}})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.DayStats{{Day: "2031-01-30"}, {Day: "2031-01-31", Logins: 2}, {Day: "2031-02-01"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Days (-want +got):\n%s", diff)
	}
	if _, err := sqlrows.Days("2031-1-30", "2031-02-01", nil); err == nil {
		t.Error("Days accepted a malformed day")
	}
}

func TestMillis(t *testing.T) {
	if sqlrows.Millis(time.Time{}) != 0 || !sqlrows.FromMillis(0).IsZero() {
		t.Error("the zero time is not 0")
	}
	tm := time.Date(2031, 1, 30, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	if got, want := sqlrows.TruncMillis(tm), tm.Truncate(time.Millisecond).UTC(); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("TruncMillis = %v, want %v in UTC", got, want)
	}
	if got := sqlrows.MessageDay(&store.Message{Time: tm.UnixMilli()}); got != "2031-01-30" {
		t.Errorf("MessageDay = %q", got)
	}
	if got := sqlrows.MessageDay(&store.Message{Time: tm.UnixMilli(), Day: "2031-01-31"}); got != "2031-01-31" {
		t.Errorf("MessageDay with Day = %q", got)
	}
}
