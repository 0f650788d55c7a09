package postgres

// SetListSQLHook lets the external tests see the SQL of list queries.
func SetListSQLHook(f func(sql string, args []any)) { listSQLHook = f }
