package postgres

// Statements the external tests EXPLAIN.
var (
	PruneEventsSQL     = pruneEvents
	PruneDeliveriesSQL = pruneDeliveries
)
