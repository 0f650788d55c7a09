package postgres_test

import "github.com/cofferhq/coffer/store/postgres"

type postgresStore = postgres.Store

func openStore(d, schema string) (*postgres.Store, error) {
	return postgres.Open(ctx, d, postgres.WithSchema(schema))
}

func latestVersion() int { return postgres.LatestVersion() }
