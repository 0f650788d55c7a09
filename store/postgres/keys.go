package postgres

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cofferhq/coffer/apikey"
	"github.com/cofferhq/coffer/store"
)

// ---- API keys (migration 0005) ----

const apiKeyCols = `id, name, prefix, customer_id, livemode, hash, created_at, revoked_at`

var (
	getAPIKey       = lockable(`SELECT ` + apiKeyCols + ` FROM api_keys WHERE id = $1`)
	getAPIKeyByHash = lockable(`SELECT ` + apiKeyCols + ` FROM api_keys WHERE hash = $1`)
)

const (
	insertAPIKey = `INSERT INTO api_keys (` + apiKeyCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT DO NOTHING`
	updateAPIKey = `UPDATE api_keys SET name = $2, prefix = $3, customer_id = $4, livemode = $5, hash = $6,
		created_at = $7, revoked_at = $8 WHERE id = $1`
)

func scanAPIKey(r pgx.Rows, k *apikey.Key) error {
	var (
		cust    pgtype.Text
		revoked pgtype.Timestamptz
	)
	err := r.Scan(&k.ID, &k.Name, &k.Prefix, &cust, &k.Livemode, &k.Hash, &k.CreatedAt, &revoked)
	k.CustomerID = cust.String
	k.CreatedAt = k.CreatedAt.UTC()
	k.RevokedAt = fromNullTime(revoked)
	return err
}

// nullText is NULL for "": an unrestricted key refers to no customer.
func nullText(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }

func apiKeyArgs(k apikey.Key) []any {
	return []any{k.ID, k.Name, k.Prefix, nullText(k.CustomerID), k.Livemode, k.Hash, timeArg(k.CreatedAt),
		nullTimeArg(k.RevokedAt)}
}

// InsertAPIKey stores a new key; a taken id or hash is store.ErrDuplicate.
func (t *tx) InsertAPIKey(k apikey.Key) error {
	if err := t.writable(); err != nil {
		return err
	}
	if len(k.Hash) == 0 {
		return fmt.Errorf("postgres: api key %q: empty hash", k.ID)
	}
	return t.insert("api key", k.ID, insertAPIKey, apiKeyArgs(k))
}

// UpdateAPIKey rewrites a key.
func (t *tx) UpdateAPIKey(k apikey.Key) error {
	if err := t.writable(); err != nil {
		return err
	}
	if len(k.Hash) == 0 {
		return fmt.Errorf("postgres: api key %q: empty hash", k.ID)
	}
	return t.update("api key", k.ID, updateAPIKey, apiKeyArgs(k))
}

// APIKey reads (in Update: locks) a key.
func (t *tx) APIKey(id string) (apikey.Key, error) {
	var k apikey.Key
	err := t.getOne("api key", id, t.lock(getAPIKey), []any{id}, func(r pgx.Rows) error { return scanAPIKey(r, &k) })
	return k, err
}

// APIKeyByHash reads (in Update: locks) the key with a hash.
func (t *tx) APIKeyByHash(hash []byte) (apikey.Key, error) {
	var k apikey.Key
	if len(hash) == 0 {
		return k, fmt.Errorf("%w: api key with empty hash", store.ErrNotFound)
	}
	err := t.getOne("api key", "by hash", t.lock(getAPIKeyByHash), []any{hash}, func(r pgx.Rows) error {
		return scanAPIKey(r, &k)
	})
	return k, err
}

// QueryAPIKeys lists keys newest first through api_keys_created_idx.
func (t *tx) QueryAPIKeys(q store.APIKeyListQuery) ([]apikey.Key, bool, error) {
	return lqPage(t, lq{table: "api_keys", cols: apiKeyCols, tcol: "created_at", desc: true,
		p: q.Page, what: "api key"}, scanAPIKey)
}

// ---- HTTP idempotency records (migration 0005) ----

const idemCols = `scope, key, request_hash, state, status, content_type, body, locked_until, created_at`

var getIdem = lockable(`SELECT ` + idemCols + ` FROM idempotency_records WHERE scope = $1 AND key = $2`)

const (
	insertIdem = `INSERT INTO idempotency_records (` + idemCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT DO NOTHING`
	updateIdem = `UPDATE idempotency_records SET request_hash = $3, state = $4, status = $5, content_type = $6,
		body = $7, locked_until = $8, created_at = $9 WHERE scope = $1 AND key = $2`
	deleteIdem = `DELETE FROM idempotency_records WHERE scope = $1 AND key = $2`
	// pruneIdem walks idempotency_records_created_idx from the oldest, so a
	// batch costs what it deletes; rows another transaction holds (a
	// request beginning or finishing right now) are left for the next one.
	pruneIdem = `DELETE FROM idempotency_records WHERE (scope, key) IN (
		SELECT scope, key FROM idempotency_records WHERE created_at < $1
		ORDER BY created_at, seq LIMIT $2
		FOR UPDATE SKIP LOCKED)`
)

func scanIdem(r pgx.Rows, v *store.IdemRecord) error {
	var (
		state  string
		locked pgtype.Timestamptz
	)
	err := r.Scan(&v.Scope, &v.Key, &v.RequestHash, &state, &v.Status, &v.ContentType, &v.Body, &locked, &v.CreatedAt)
	v.State = store.IdemState(state)
	v.LockedUntil = fromNullTime(locked)
	v.CreatedAt = v.CreatedAt.UTC()
	return err
}

func idemArgs(v store.IdemRecord) []any {
	return []any{v.Scope, v.Key, v.RequestHash, string(v.State), v.Status, v.ContentType, v.Body,
		nullTimeArg(v.LockedUntil), timeArg(v.CreatedAt)}
}

// InsertIdem stores a new record; a taken (scope, key) is
// store.ErrDuplicate (after the transaction holding it, if any, ended).
func (t *tx) InsertIdem(v store.IdemRecord) error {
	if err := t.writable(); err != nil {
		return err
	}
	return t.insert("idempotency record", v.Key, insertIdem, idemArgs(v))
}

// IdemRecord reads (in Update: locks) a record.
func (t *tx) IdemRecord(scope, key string) (store.IdemRecord, error) {
	var v store.IdemRecord
	err := t.getOne("idempotency record", key, t.lock(getIdem), []any{scope, key}, func(r pgx.Rows) error {
		return scanIdem(r, &v)
	})
	return v, err
}

// UpdateIdem rewrites a record.
func (t *tx) UpdateIdem(v store.IdemRecord) error {
	if err := t.writable(); err != nil {
		return err
	}
	return t.update("idempotency record", v.Key, updateIdem, idemArgs(v))
}

// DeleteIdem removes a record.
func (t *tx) DeleteIdem(scope, key string) error {
	if err := t.writable(); err != nil {
		return err
	}
	return t.update("idempotency record", key, deleteIdem, []any{scope, key})
}

// PruneIdem deletes the oldest records created before before.
func (t *tx) PruneIdem(before time.Time, limit int) (int, error) {
	tag, err := t.exec(pruneIdem, timeArg(before), limitArg(limit))
	return int(tag.RowsAffected()), err
}
