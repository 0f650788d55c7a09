package postgres

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cofferhq/coffer/store"
)

// Conversions between records and column values. PostgreSQL keeps
// timestamps to the microsecond, so a stored time comes back truncated to
// microseconds, in UTC. Optional times are NULL when zero, and optional
// structures and maps NULL when nil, so nil and empty stay apart.

// jsonArg encodes v (a map or a pointer) as jsonb, or NULL when nil.
func jsonArg[T any](v T, isNil bool) ([]byte, error) {
	if isNil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("postgres: encode: %w", err)
	}
	return b, nil
}

func metaArg(m map[string]string) ([]byte, error) { return jsonArg(m, m == nil) }

func decodeMeta(b []byte) (map[string]string, error) {
	if b == nil {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("postgres: decode metadata: %w", err)
	}
	return m, nil
}

// decodePtr decodes a jsonb column into a new *T, or nil for NULL.
func decodePtr[T any](b []byte) (*T, error) {
	if b == nil {
		return nil, nil
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("postgres: decode: %w", err)
	}
	return v, nil
}

// timeArg is a NOT NULL timestamp argument.
func timeArg(t time.Time) time.Time { return t.UTC() }

// nullTimeArg is NULL for the zero time.
func nullTimeArg(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t.UTC(), Valid: true}
}

func fromNullTime(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// limitArg is a LIMIT argument: store.DefaultLimit for limit <= 0.
func limitArg(limit int) any {
	if limit <= 0 {
		return store.DefaultLimit // the contract: a batch limit <= 0 means DefaultLimit
	}
	return limit
}

// cloneStrings copies a slice argument that is queued for later sending,
// keeping nil apart from empty.
func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s)
}

// listQuery is a newest-first list over one table, built from optional
// filters.
type listQuery struct {
	table string
	cols  string
	where []string
	args  []any
}

// filter adds a condition; "?" in cond stands for the placeholder of arg.
func (l *listQuery) filter(cond string, arg any) {
	l.args = append(l.args, arg)
	l.where = append(l.where, strings.Replace(cond, "?", fmt.Sprintf("$%d", len(l.args)), 1))
}

// listPage runs l for page p. Cursors are record ids compared through their
// seq; an unknown cursor is store.ErrNotFound.
func listPage[T any](t *tx, l listQuery, p store.Page, scan func(pgx.Rows, *T) error) ([]T, bool, error) {
	n := p.Size()
	asc := false
	if p.StartingAfter != "" {
		l.filter("seq < (SELECT seq FROM "+l.table+" WHERE id = ?)", p.StartingAfter)
	}
	if p.EndingBefore != "" {
		l.filter("seq > (SELECT seq FROM "+l.table+" WHERE id = ?)", p.EndingBefore)
		asc = p.StartingAfter == ""
	}
	var sb strings.Builder
	sb.WriteString("SELECT ")
	sb.WriteString(l.cols)
	sb.WriteString(" FROM ")
	sb.WriteString(l.table)
	for i, w := range l.where {
		if i == 0 {
			sb.WriteString(" WHERE ")
		} else {
			sb.WriteString(" AND ")
		}
		sb.WriteString(w)
	}
	if asc {
		sb.WriteString(" ORDER BY seq ASC")
	} else {
		sb.WriteString(" ORDER BY seq DESC")
	}
	l.args = append(l.args, n+1)
	fmt.Fprintf(&sb, " LIMIT $%d", len(l.args))

	out := make([]T, 0, min(n+1, 32))
	err := t.query(sb.String(), l.args, func(r pgx.Rows) error {
		var v T
		if err := scan(r, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if len(out) == 0 {
		for _, c := range []string{p.StartingAfter, p.EndingBefore} {
			if c == "" {
				continue
			}
			if err := t.exists(l.table, c); err != nil {
				return nil, false, err
			}
		}
	}
	more := len(out) > n
	if more {
		out = out[:n]
	}
	if asc {
		slices.Reverse(out)
	}
	return out, more, nil
}

// exists returns store.ErrNotFound unless table has a row with id.
func (t *tx) exists(table, id string) error {
	found := false
	err := t.query("SELECT EXISTS (SELECT 1 FROM "+table+" WHERE id = $1)", []any{id}, func(r pgx.Rows) error {
		return r.Scan(&found)
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: cursor %q", store.ErrNotFound, id)
	}
	return nil
}
