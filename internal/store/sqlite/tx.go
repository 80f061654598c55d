package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
)

// driverConn is what a write transaction needs of the driver's connection.
type driverConn interface {
	driver.ExecerContext
	driver.QueryerContext
}

// tx is a write transaction in progress on the write connection. It runs
// statements on the driver directly: database/sql costs several
// microseconds a statement (more than SQLite itself spends on a short
// one), and the write connection needs none of its pooling. Statements run
// without a context: a transaction is short, and finishing it is cheaper
// than undoing it.
type tx struct {
	c  driverConn
	s  *writeStmts
	mc *msgCache // the message cache; see cache
	// mcChecked is set once the cache was checked against the database in
	// this transaction.
	mcChecked bool
	args      []driver.NamedValue // reused by bind
	vals      []driver.Value      // reused by the row readers
}

var bg = context.Background()

// bind converts args into the reused driver arguments.
func (t *tx) bind(args []any) []driver.NamedValue {
	t.args = t.args[:0]
	for i, a := range args {
		switch x := a.(type) {
		case int:
			a = int64(x)
		case uint32:
			a = int64(x)
		case uint64:
			a = int64(x)
		}
		t.args = append(t.args, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	return t.args
}

// exec runs a prepared statement and returns how many rows it changed.
func (t *tx) exec(s driver.Stmt, args ...any) (int64, error) {
	r, err := s.(driver.StmtExecContext).ExecContext(bg, t.bind(args))
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// execSQL runs SQL that is not prepared (for the rare paths) and returns how
// many rows it changed.
func (t *tx) execSQL(query string, args ...any) (int64, error) {
	r, err := t.c.ExecContext(bg, query, t.bind(args))
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// row runs a prepared query and stores the columns of its first row in
// dest; found is false when there is none.
func (t *tx) row(s driver.Stmt, dest []any, args ...any) (found bool, err error) {
	err = t.rows(s, dest, func() error {
		found = true
		return errStop
	}, args...)
	return found, err
}

// errStop ends a rows loop early without an error.
var errStop = errors.New("stop")

// rows runs a prepared query and calls each for each row, with its columns
// stored in dest.
func (t *tx) rows(s driver.Stmt, dest []any, each func() error, args ...any) error {
	rs, err := s.(driver.StmtQueryContext).QueryContext(bg, t.bind(args))
	if err != nil {
		return err
	}
	return t.scan(rs, dest, each)
}

// rowsSQL is rows for SQL that is not prepared.
func (t *tx) rowsSQL(query string, dest []any, each func() error, args ...any) error {
	rs, err := t.c.QueryContext(bg, query, t.bind(args))
	if err != nil {
		return err
	}
	return t.scan(rs, dest, each)
}

func (t *tx) scan(rs driver.Rows, dest []any, each func() error) (err error) {
	defer func() {
		if cerr := rs.Close(); err == nil {
			err = cerr
		}
	}()
	if n := len(rs.Columns()); n != len(dest) {
		return fmt.Errorf("sqlite: %d columns for %d destinations", n, len(dest))
	}
	if cap(t.vals) < len(dest) {
		t.vals = make([]driver.Value, len(dest))
	}
	vals := t.vals[:len(dest)]
	for {
		if err := rs.Next(vals); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		for i, v := range vals {
			if err := assign(dest[i], v); err != nil {
				return fmt.Errorf("sqlite: column %d: %w", i, err)
			}
		}
		if err := each(); err == errStop {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// assign stores a driver value in dst, an *int64, *string, *[]byte or *bool.
func assign(dst any, v driver.Value) error {
	switch d := dst.(type) {
	case *int64:
		switch x := v.(type) {
		case int64:
			*d = x
			return nil
		case nil:
			*d = 0
			return nil
		}
	case *string:
		switch x := v.(type) {
		case string:
			*d = x
			return nil
		case []byte:
			*d = string(x)
			return nil
		case nil:
			*d = ""
			return nil
		}
	case *[]byte:
		switch x := v.(type) {
		case []byte:
			*d = x
			return nil
		case string:
			*d = []byte(x)
			return nil
		case nil:
			*d = nil
			return nil
		}
	case *bool:
		switch x := v.(type) {
		case int64:
			*d = x != 0
			return nil
		case nil:
			*d = false
			return nil
		}
	}
	return fmt.Errorf("cannot store %T in %T", v, dst)
}
