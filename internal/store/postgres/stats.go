package postgres

import (
	"context"
	"fmt"

	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlrows"
)

// RecordPeakOnline implements store.Store. The peak is kept per shard;
// DayStats takes the greatest.
func (db *DB) RecordPeakOnline(ctx context.Context, app uint64, day string, n int) error {
	return db.update(ctx, func(t *tx) error {
		t.queue(`INSERT INTO day_stats AS d (app, day, shard, peak_online) VALUES ($1, $2, $3, $4)
			ON CONFLICT (app, day, shard) DO UPDATE SET peak_online = greatest(d.peak_online, excluded.peak_online)`,
			int64(app), day, t.shard, int64(n))
		return nil
	})
}

// DayStats implements store.Store.
func (db *DB) DayStats(ctx context.Context, app uint64, first, last string) ([]store.DayStats, error) {
	if _, err := sqlrows.Days(first, last, nil); err != nil {
		return nil, fmt.Errorf("postgres: day stats: %w", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT day, sum(active_users)::bigint, sum(logins)::bigint, sum(new_users)::bigint,
			max(peak_online), sum(messages)::bigint, sum(senders)::bigint
		FROM day_stats WHERE app = $1 AND day >= $2 AND day <= $3 GROUP BY day`, int64(app), first, last)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := make(map[string]store.DayStats)
	for rows.Next() {
		var (
			s                                   store.DayStats
			users, logins, news, peak, msgs, sn int64
		)
		if err := rows.Scan(&s.Day, &users, &logins, &news, &peak, &msgs, &sn); err != nil {
			return nil, err
		}
		s.ActiveUsers, s.Logins, s.NewUsers, s.PeakOnline, s.Messages, s.Senders =
			int(users), int(logins), int(news), int(peak), int(msgs), int(sn)
		have[s.Day] = s
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return sqlrows.Days(first, last, have)
}

// MonthActiveUsers implements store.Store.
func (db *DB) MonthActiveUsers(ctx context.Context, app uint64, month string) (int, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM month_users WHERE app = $1 AND month = $2`,
		int64(app), month).Scan(&n)
	return int(n), err
}
