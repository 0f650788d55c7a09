package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// migrations holds the schema changes, one file per version, named
// NNNN_description.sql. A released file is never edited: a change is a new
// file.
//
//go:embed migrations/*.sql
var migrations embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, f := range files {
		base := path.Base(f)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("postgres: migration file %s: want NNNN_name.sql", base)
		}
		b, err := migrations.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: versions must run 1, 2, 3, ... without gaps", m.name)
		}
	}
	return out, nil
}

// LatestVersion is the schema version this build creates.
func LatestVersion() int {
	ms, err := loadMigrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate brings the schema to the latest version in one transaction that
// holds an advisory lock on the schema: instances starting together take
// turns, and the later ones find nothing left to do. A schema newer than
// this build is refused rather than used with the wrong shape.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Release()
	if s.schema != "" {
		var current string
		if err := conn.QueryRow(ctx, "SHOW search_path").Scan(&current); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if current != s.schema {
			return fmt.Errorf("postgres: schema %q: the pool's search_path is %q; set it to the schema "+
				"(pgxpool.Config.ConnConfig.RuntimeParams[\"search_path\"])", s.schema, current)
		}
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1::int4, hashtext($2))",
			lockClassMigrate, s.schema); err != nil {
			return fmt.Errorf("postgres: migration lock: %w", err)
		}
		if s.schema != "" {
			// Look first: CREATE SCHEMA IF NOT EXISTS needs the CREATE
			// privilege on the database even when the schema exists.
			var exists bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
				s.schema).Scan(&exists); err != nil {
				return fmt.Errorf("postgres: %w", err)
			}
			if !exists {
				if _, err := tx.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{s.schema}.Sanitize()); err != nil {
					return fmt.Errorf("postgres: create schema: %w", err)
				}
			}
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL)`); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		var applied int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&applied); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if applied > len(ms) {
			return fmt.Errorf("postgres: schema version %d is newer than this build (%d)", applied, len(ms))
		}
		for _, m := range ms[applied:] {
			// No arguments: pgx sends the file with the simple protocol,
			// which runs several statements.
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("postgres: migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				m.version, m.name, time.Now().UTC()); err != nil {
				return fmt.Errorf("postgres: %w", err)
			}
		}
		return buildSearchTokens(ctx, tx)
	})
}

// Migration is one schema change of this build, for a DBA who applies
// the schema by hand (`coffer migrate -print`).
type Migration struct {
	// Version numbers run 1, 2, 3, ...; schema_migrations records them.
	Version int
	// Name is the file name without .sql (0001_init).
	Name string
	// SQL is the migration's statements, as Open runs them.
	SQL string
}

// Migrations returns every migration of this build, oldest first. Open
// applies the ones a database lacks, in one transaction, recording each
// in the table schema_migrations (version integer PRIMARY KEY, name text,
// applied_at timestamptz).
func Migrations() ([]Migration, error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	out := make([]Migration, len(ms))
	for i, m := range ms {
		out[i] = Migration{Version: m.version, Name: m.name, SQL: m.sql}
	}
	return out, nil
}
