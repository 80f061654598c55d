package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/imkit/imkit/internal/store"
)

const dayLayout = "2006-01-02"

// RecordPeakOnline implements store.Store.
func (db *DB) RecordPeakOnline(ctx context.Context, app uint64, day string, n int) error {
	return db.updateKeep(ctx, func(t *tx) error {
		_, err := t.execSQL(`INSERT INTO day_stats (app, day, peak_online) VALUES (?, ?, ?)
			ON CONFLICT (app, day) DO UPDATE SET peak_online = max(peak_online, excluded.peak_online)`,
			int64(app), day, n)
		return err
	})
}

// DayStats implements store.Store.
func (db *DB) DayStats(ctx context.Context, app uint64, first, last string) ([]store.DayStats, error) {
	d0, err := time.Parse(dayLayout, first)
	if err != nil {
		return nil, fmt.Errorf("sqlite: day stats: first day: %w", err)
	}
	d1, err := time.Parse(dayLayout, last)
	if err != nil {
		return nil, fmt.Errorf("sqlite: day stats: last day: %w", err)
	}
	rows, err := db.rdb.QueryContext(ctx, `SELECT day, active_users, logins, new_users, peak_online, messages, senders
		FROM day_stats WHERE app = ? AND day >= ? AND day <= ?`, int64(app), first, last)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := make(map[string]store.DayStats)
	for rows.Next() {
		var s store.DayStats
		if err := rows.Scan(&s.Day, &s.ActiveUsers, &s.Logins, &s.NewUsers, &s.PeakOnline, &s.Messages, &s.Senders); err != nil {
			return nil, err
		}
		have[s.Day] = s
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []store.DayStats
	for d := d0; !d.After(d1); d = d.AddDate(0, 0, 1) {
		day := d.Format(dayLayout)
		s, ok := have[day]
		if !ok {
			s.Day = day
		}
		out = append(out, s)
	}
	return out, nil
}

// MonthActiveUsers implements store.Store.
func (db *DB) MonthActiveUsers(ctx context.Context, app uint64, month string) (int, error) {
	var n int
	err := db.rdb.QueryRowContext(ctx, `SELECT count(*) FROM month_users WHERE app = ? AND month = ?`,
		int64(app), month).Scan(&n)
	return n, err
}
