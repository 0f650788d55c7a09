package postgres_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/postgres"
	"github.com/cofferhq/coffer/webhook"
)

// TestPruneUsesRetentionIndexes: the prune statements walk the partial
// indexes of migration 0003 (cost O(deleted)), not the tables.
func TestPruneUsesRetentionIndexes(t *testing.T) {
	d := dsn(t)
	schema := newSchema(t, d)
	s := openIn(t, d, schema)
	update(t, s, func(tx store.Tx) error {
		for i := range 2000 {
			at := t0.Add(time.Duration(i) * time.Minute)
			id := fmt.Sprintf("evt_%05d", i)
			if err := tx.InsertEvent(webhook.Event{ID: id, Type: "t", CreatedAt: at, Dispatched: i%2 == 0}); err != nil {
				return err
			}
			err := tx.PutDelivery(webhook.Delivery{ID: fmt.Sprintf("dlv_%05d", i), EventID: id, EndpointID: "we",
				Status: webhook.DeliveryStatus([]string{"pending", "succeeded", "failed"}[i%3]), RunAt: at, CreatedAt: at, UpdatedAt: at})
			if err != nil {
				return err
			}
		}
		return nil
	})
	conn, err := pgx.Connect(ctx, d)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, q := range []string{"SET search_path = " + schema, "ANALYZE events", "ANALYZE webhook_deliveries",
		"SET enable_seqscan = off", "SET enable_sort = off"} {
		_, err := conn.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	plan := func(sql string) string {
		rows, err := conn.Query(ctx, "EXPLAIN "+sql, t0.Add(time.Hour), 100)
		require.NoError(t, err)
		var lines []string
		for rows.Next() {
			var l string
			require.NoError(t, rows.Scan(&l))
			lines = append(lines, l)
		}
		require.NoError(t, rows.Err())
		return strings.Join(lines, "\n")
	}
	require.Contains(t, plan(postgres.PruneEventsSQL), "events_dispatched_idx")
	require.Contains(t, plan(postgres.PruneDeliveriesSQL), "webhook_deliveries_finished_idx")
}
