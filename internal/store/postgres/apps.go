package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlrows"
)

const appCols = `sdk_app_id, key, admin, policy, max_instances, webhook_url, created_at`

// CreateApp implements store.Store.
func (db *DB) CreateApp(ctx context.Context, a store.App) error {
	ct, err := db.pool.Exec(ctx, `INSERT INTO apps (`+appCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT DO NOTHING`,
		int64(a.SDKAppID), a.Key, a.Admin, int64(a.Policy), sqlrows.FormatLimits(a.MaxInstances), a.WebhookURL, sqlrows.Millis(a.CreatedAt))
	if err != nil {
		return err
	}
	if ct.RowsAffected() == 0 {
		return fmt.Errorf("app %d: %w", a.SDKAppID, store.ErrExists)
	}
	return nil
}

// App implements store.Store.
func (db *DB) App(ctx context.Context, sdkAppID uint64) (store.App, error) {
	a, err := scanApp(db.pool.QueryRow(ctx, `SELECT `+appCols+` FROM apps WHERE sdk_app_id = $1`, int64(sdkAppID)))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.App{}, fmt.Errorf("app %d: %w", sdkAppID, store.ErrNotFound)
	}
	return a, err
}

// Apps implements store.Store.
func (db *DB) Apps(ctx context.Context) ([]store.App, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+appCols+` FROM apps ORDER BY sdk_app_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var apps []store.App
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, err
		}
		apps = append(apps, a)
	}
	return apps, rows.Err()
}

// UpdateApp implements store.Store.
func (db *DB) UpdateApp(ctx context.Context, a store.App) error {
	ct, err := db.pool.Exec(ctx, `UPDATE apps SET policy = $1, max_instances = $2, webhook_url = $3 WHERE sdk_app_id = $4`,
		int64(a.Policy), sqlrows.FormatLimits(a.MaxInstances), a.WebhookURL, int64(a.SDKAppID))
	if err != nil {
		return err
	}
	if ct.RowsAffected() == 0 {
		return fmt.Errorf("app %d: %w", a.SDKAppID, store.ErrNotFound)
	}
	return nil
}

func scanApp(row pgx.Row) (store.App, error) {
	var (
		a              store.App
		id, policy, at int64
		limits         string
	)
	if err := row.Scan(&id, &a.Key, &a.Admin, &policy, &limits, &a.WebhookURL, &at); err != nil {
		return store.App{}, err
	}
	a.SDKAppID = uint64(id)
	a.Policy = imkit.LoginPolicy(policy)
	a.CreatedAt = sqlrows.FromMillis(at)
	var err error
	if a.MaxInstances, err = sqlrows.ParseLimits(limits); err != nil {
		return store.App{}, fmt.Errorf("app %d: %w", a.SDKAppID, err)
	}
	return a, nil
}
