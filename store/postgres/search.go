package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

// Customer search (issue 13) over the customer_tokens table of migration
// 0006, planned as store/search.go describes so that PostgreSQL answers
// exactly as the other stores: each term is the byte range of the tokens
// starting with it; a term with at most Candidates rows is selective and
// the page is the intersection of the selective terms' customers, the
// other terms checked with EXISTS on (seq, tok); with no selective term,
// the next Scan customers from the cursor are read.

// searchPrefilter selects the all-common-terms plan with position() and
// per-row probes; false is the plan before it (EXISTS only), kept for the
// side-by-side benchmark.
var searchPrefilter = true

// searchTokensVersion is the tokenization customer_tokens holds.
const searchTokensVersion = 1

func tokenArgs(c customer.Customer) [][]byte {
	toks := customer.Tokens(c)
	out := make([][]byte, len(toks))
	for i, t := range toks {
		out[i] = []byte(t)
	}
	return out
}

// prefixEnd is the smallest byte string above every string starting with
// p (p is UTF-8, so its bytes are below 0xff).
func prefixEnd(p string) []byte {
	b := []byte(p)
	b[len(b)-1]++
	return b
}

// buildSearchTokens fills customer_tokens unless customer_tokens_state says
// it holds this tokenization. It runs in the migration transaction, under
// its lock, so instances opening together build it once.
func buildSearchTokens(ctx context.Context, tx pgx.Tx) error {
	var version int
	err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM customer_tokens_state`).Scan(&version)
	if err != nil {
		return fmt.Errorf("postgres: customer tokens: %w", err)
	}
	if version == searchTokensVersion {
		return nil
	}
	if _, err := tx.Exec(ctx, `TRUNCATE customer_tokens`); err != nil {
		return fmt.Errorf("postgres: customer tokens: %w", err)
	}
	const batch = 2000
	var after int64 = -1 << 63
	for {
		rows, err := tx.Query(ctx, `SELECT seq, id, name, email, phone, description FROM customers
			WHERE seq > $1 ORDER BY seq LIMIT $2`, after, batch)
		if err != nil {
			return fmt.Errorf("postgres: customer tokens: %w", err)
		}
		var toks [][]byte
		var seqs []int64
		n := 0
		for rows.Next() {
			var c customer.Customer
			if err := rows.Scan(&after, &c.ID, &c.Name, &c.Email, &c.Phone, &c.Description); err != nil {
				rows.Close()
				return fmt.Errorf("postgres: customer tokens: %w", err)
			}
			n++
			for _, t := range tokenArgs(c) {
				toks = append(toks, t)
				seqs = append(seqs, after)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("postgres: customer tokens: %w", err)
		}
		if len(toks) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO customer_tokens (tok, seq)
				SELECT * FROM unnest($1::bytea[], $2::bigint[])`, toks, seqs); err != nil {
				return fmt.Errorf("postgres: customer tokens: %w", err)
			}
		}
		if n < batch {
			break
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM customer_tokens_state`); err != nil {
		return fmt.Errorf("postgres: customer tokens: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO customer_tokens_state (version) VALUES ($1)`, searchTokensVersion); err != nil {
		return fmt.Errorf("postgres: customer tokens: %w", err)
	}
	return nil
}

// SearchCustomers reads one page of a customer search.
func (t *tx) SearchCustomers(q store.CustomerSearchQuery) (store.SearchPage, error) {
	var out store.SearchPage
	candidates, scan := q.Budgets()
	limit := q.Size()
	back := q.EndingBefore != "" && q.StartingAfter == ""
	lo, hi := int64(-1<<63), int64(1<<63-1)
	for _, c := range []struct {
		id  string
		dst *int64
	}{{q.StartingAfter, &hi}, {q.EndingBefore, &lo}} {
		if c.id == "" {
			continue
		}
		found := false
		err := t.query(`SELECT seq FROM customers WHERE id = $1`, []any{c.id}, func(r pgx.Rows) error {
			found = true
			return r.Scan(c.dst)
		})
		if err != nil {
			return out, err
		}
		if !found {
			return out, fmt.Errorf("%w: cursor %q", store.ErrNotFound, c.id)
		}
	}
	terms := q.Search.Terms()
	if len(terms) == 0 {
		return out, nil
	}
	los, his := make([][]byte, len(terms)), make([][]byte, len(terms))
	for i, term := range terms {
		los[i], his[i] = []byte(term), prefixEnd(term)
	}
	// 1. How many entries each term's range has, up to candidates+1.
	var counts []int
	err := t.query(`SELECT c.n FROM unnest($1::bytea[], $2::bytea[]) WITH ORDINALITY AS r(lo, hi, i),
		LATERAL (SELECT count(*) AS n FROM (SELECT 1 FROM customer_tokens
			WHERE tok >= r.lo AND tok < r.hi LIMIT $3) x) c ORDER BY r.i`,
		[]any{los, his, candidates + 1}, func(r pgx.Rows) error {
			var n int
			counts = append(counts, n)
			return r.Scan(&counts[len(counts)-1])
		})
	if err != nil {
		return out, err
	}
	args := []any{lo, hi}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	has := func(alias string, i int) string {
		return fmt.Sprintf("EXISTS (SELECT 1 FROM customer_tokens t WHERE t.seq = %s.seq AND t.tok >= %s AND t.tok < %s)",
			alias, arg(los[i]), arg(his[i]))
	}
	order := "DESC"
	if back {
		order = "ASC"
	}
	var sel []string
	for i, n := range counts {
		if n <= candidates {
			// seq + 0: the bounds must not steer the planner to the (seq,
			// tok) index, a walk of every customer's tokens.
			sel = append(sel, fmt.Sprintf("SELECT seq FROM customer_tokens WHERE tok >= %s AND tok < %s AND seq + 0 > $1 AND seq + 0 < $2",
				arg(los[i]), arg(his[i])))
		}
	}
	var sql string
	var where []string
	if len(sel) > 0 {
		for i, n := range counts {
			if n > candidates {
				where = append(where, has("c", i))
			}
		}
		cand := strings.Join(sel, " INTERSECT ")
		if len(sel) == 1 {
			cand = "SELECT DISTINCT seq FROM (" + cand + ") s"
		}
		// One customer lookup per candidate (OFFSET 0 keeps the lateral
		// subquery a nested loop): never a walk of the customers table.
		sql = "WITH cand AS MATERIALIZED (" + cand + ") SELECT " + prefixCols("c", customerCols) +
			" FROM cand CROSS JOIN LATERAL (SELECT * FROM customers x WHERE x.seq = cand.seq OFFSET 0) c"
	} else {
		// Every term is common: the next Scan customers are read, each
		// first tested with position() on search_text (the folded fields:
		// every token but the phone's digits run together is a substring
		// of it), then, the few left, probed in the (seq, tok) index one
		// by one (a scalar subquery with LIMIT is not turned into a hash
		// join over every entry of the term).
		for _, term := range terms {
			if searchPrefilter && strings.Trim(term, "0123456789") != "" {
				where = append(where, "position("+arg(term)+"::text in c.search_text) > 0")
			}
		}
		for i := range counts {
			if !searchPrefilter {
				where = append(where, has("c", i))
				continue
			}
			where = append(where, fmt.Sprintf("coalesce((SELECT true FROM customer_tokens t WHERE t.seq = c.seq AND t.tok >= %s AND t.tok < %s LIMIT 1), false)",
				arg(los[i]), arg(his[i])))
		}
		// The window carries only seq and search_text; only the customers
		// of the page are then read whole (at most limit+1 lookups by seq).
		sql = "SELECT c.seq FROM (SELECT seq, search_text FROM customers WHERE seq > $1 AND seq < $2 ORDER BY seq " +
			order + " LIMIT " + arg(scan) + ") c"
	}
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	if len(sel) > 0 {
		sql += " ORDER BY cand.seq " + order + " LIMIT " + arg(limit+1)
	} else {
		sql = "SELECT " + prefixCols("x", customerCols) + " FROM (" + sql + " ORDER BY c.seq " + order + " LIMIT " +
			arg(limit+1) + ") m CROSS JOIN LATERAL (SELECT * FROM customers x WHERE x.seq = m.seq OFFSET 0) x ORDER BY m.seq " + order
	}
	// The scan budget: did it end before the customers did? The customers
	// at positions scan and scan+1 from the cursor, asked in the same round
	// trip as the page (queued in front of it) when every term is common:
	// the seq index alone walks the window (an index-only scan), and only
	// those two customers are looked up.
	var edge []string
	if len(sel) == 0 {
		t.q = append(t.q, queued{sql: `SELECT c.id FROM (SELECT seq FROM customers WHERE seq > $1 AND seq < $2
			ORDER BY seq ` + order + ` OFFSET $3 LIMIT 2) s
			CROSS JOIN LATERAL (SELECT id FROM customers x WHERE x.seq = s.seq OFFSET 0) c ORDER BY s.seq ` + order,
			args: []any{lo, hi, scan - 1}, each: func(r pgx.Rows) error {
				var id string
				edge = append(edge, id)
				return r.Scan(&edge[len(edge)-1])
			}})
	}
	err = t.query(sql, args, func(r pgx.Rows) error {
		var c customer.Customer
		if err := scanCustomer(r, &c); err != nil {
			return err
		}
		out.Customers = append(out.Customers, c)
		return nil
	})
	if err != nil {
		return store.SearchPage{}, err
	}
	if len(out.Customers) > limit {
		out.Customers, out.HasMore = out.Customers[:limit], true
	} else if len(sel) == 0 && len(edge) == 2 {
		out.HasMore = true
		if len(out.Customers) < limit {
			out.Cursor = edge[0]
		}
	}
	if out.HasMore && out.Cursor == "" {
		out.Cursor = out.Customers[len(out.Customers)-1].ID
	}
	if back {
		slices.Reverse(out.Customers)
	}
	return out, nil
}

// prefixCols qualifies a column list with a table alias.
func prefixCols(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
