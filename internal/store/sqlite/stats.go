package sqlite

import (
	"context"
	"fmt"

	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlrows"
)

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
	if _, err := sqlrows.Days(first, last, nil); err != nil {
		return nil, fmt.Errorf("sqlite: day stats: %w", err)
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
	return sqlrows.Days(first, last, have)
}

// MonthActiveUsers implements store.Store.
func (db *DB) MonthActiveUsers(ctx context.Context, app uint64, month string) (int, error) {
	var n int
	err := db.rdb.QueryRowContext(ctx, `SELECT count(*) FROM month_users WHERE app = ? AND month = ?`,
		int64(app), month).Scan(&n)
	return n, err
}
