package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlrows"
)

const appCols = `sdk_app_id, key, admin, policy, max_instances, webhook_url, created_at`

// CreateApp implements store.Store.
func (db *DB) CreateApp(ctx context.Context, a store.App) error {
	return db.update(ctx, func(t *tx) error {
		n, err := t.execSQL(`INSERT INTO apps (`+appCols+`) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			int64(a.SDKAppID), a.Key, a.Admin, int64(a.Policy), sqlrows.FormatLimits(a.MaxInstances), a.WebhookURL, sqlrows.Millis(a.CreatedAt))
		if err == nil && n == 0 {
			err = fmt.Errorf("app %d: %w", a.SDKAppID, store.ErrExists)
		}
		return err
	})
}

// App implements store.Store.
func (db *DB) App(ctx context.Context, sdkAppID uint64) (store.App, error) {
	a, err := scanApp(db.rdb.QueryRowContext(ctx, `SELECT `+appCols+` FROM apps WHERE sdk_app_id = ?`, int64(sdkAppID)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.App{}, fmt.Errorf("app %d: %w", sdkAppID, store.ErrNotFound)
	}
	return a, err
}

// Apps implements store.Store.
func (db *DB) Apps(ctx context.Context) ([]store.App, error) {
	rows, err := db.rdb.QueryContext(ctx, `SELECT `+appCols+` FROM apps ORDER BY sdk_app_id`)
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
	return db.update(ctx, func(t *tx) error {
		n, err := t.execSQL(`UPDATE apps SET policy = ?, max_instances = ?, webhook_url = ? WHERE sdk_app_id = ?`,
			int64(a.Policy), sqlrows.FormatLimits(a.MaxInstances), a.WebhookURL, int64(a.SDKAppID))
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("app %d: %w", a.SDKAppID, store.ErrNotFound)
		}
		return nil
	})
}

type scanner interface{ Scan(dest ...any) error }

func scanApp(s scanner) (store.App, error) {
	var (
		a              store.App
		id, policy, at int64
		limits         string
	)
	if err := s.Scan(&id, &a.Key, &a.Admin, &policy, &limits, &a.WebhookURL, &at); err != nil {
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
