package main

import (
	"context"
	"errors"
	"fmt"

	bbolterrors "go.etcd.io/bbolt/errors"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/bolt"
	"github.com/cofferhq/coffer/store/postgres"
)

// openStore opens the configured store; PostgreSQL is migrated on open.
func openStore(ctx context.Context, c storeConfig) (store.Store, error) {
	if c.postgres == "" {
		s, err := bolt.Open(c.db, bolt.ServeOptions()...)
		if errors.Is(err, bbolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%w (another process holds the file: a bbolt store is opened by one process at a time; "+
				"while `coffer serve` runs, use its API)", err)
		}
		return s, err
	}
	var opts []postgres.Option
	if c.schema != "" {
		opts = append(opts, postgres.WithSchema(c.schema))
	}
	return postgres.Open(ctx, c.postgres, opts...)
}

// openEngine opens the store and an engine on it; the returned function
// closes both.
func openEngine(ctx context.Context, c storeConfig, opts ...coffer.Option) (*coffer.Engine, func(), error) {
	s, err := openStore(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	eng, err := coffer.New(s, opts...)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return eng, func() { eng.Close(); s.Close() }, nil
}
