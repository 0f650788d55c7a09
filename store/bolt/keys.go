package bolt

import (
	"fmt"
	"time"

	"github.com/cofferhq/coffer/apikey"
	"github.com/cofferhq/coffer/store"
)

// API keys: a record kind with a unique index by hash and a list key
// "key" + CreatedAt + seq in the lists bucket. Idempotency records: a
// record kind whose id is scope(Scope, Key), with an age index
// timeKey(CreatedAt) + seq for PruneIdem.

var (
	kAPIKeys    = kind{[]byte("api_keys"), []byte("api_keys.id")}
	bAPIKeyHash = []byte("api_keys.hash") // unique: hash

	kIdem    = kind{[]byte("idempotency"), []byte("idempotency.id")}
	bIdemAge = []byte("idempotency.age") // timeKey(CreatedAt)+seq
)

// ---- API keys ----

func apiKeyKeys(k apikey.Key, seq uint64) []ikey {
	return []ikey{lkey(k.CreatedAt, seq, "key"), uniqueKey(bAPIKeyHash, k.Hash)}
}

func (t *tx) InsertAPIKey(k apikey.Key) error {
	seq, err := t.nextSeq(kAPIKeys, k.ID)
	if err != nil {
		return err
	}
	if len(k.Hash) == 0 {
		return fmt.Errorf("bolt: api key %q: empty hash", k.ID)
	}
	v, err := encodeAPIKey(k)
	if err != nil {
		return err
	}
	return t.insert(kAPIKeys, k.ID, seq, v, apiKeyKeys(k, seq))
}

func (t *tx) UpdateAPIKey(k apikey.Key) error {
	if len(k.Hash) == 0 {
		return fmt.Errorf("bolt: api key %q: empty hash", k.ID)
	}
	v, err := encodeAPIKey(k)
	if err != nil {
		return err
	}
	return t.update(kAPIKeys, k.ID, v, func(seq uint64) []ikey { return apiKeyKeys(k, seq) },
		oldKeysOf(decodeAPIKey, apiKeyKeys))
}

func (t *tx) APIKey(id string) (apikey.Key, error) { return get(t, kAPIKeys, id, decodeAPIKey) }

func (t *tx) APIKeyByHash(hash []byte) (apikey.Key, error) {
	if len(hash) == 0 {
		return apikey.Key{}, fmt.Errorf("%w: api key with empty hash", store.ErrNotFound)
	}
	v, err := t.lookupUnique(kAPIKeys, bAPIKeyHash, hash, "api key by hash")
	if err != nil {
		return apikey.Key{}, err
	}
	return decodeAPIKey(v)
}

func (t *tx) QueryAPIKeys(q store.APIKeyListQuery) ([]apikey.Key, bool, error) {
	pl := lplan{scopes: [][]byte{scope("key")}, desc: true, p: q.Page, k: kAPIKeys,
		at: atOf(decodeAPIKey, func(k *apikey.Key) time.Time { return k.CreatedAt })}
	return lpage(t, pl, func(_ uint64, v []byte) (apikey.Key, bool, error) {
		k, err := decodeAPIKey(v)
		return k, err == nil, err
	})
}

// ---- idempotency records ----

func idemID(scopeID, key string) string { return string(scope(scopeID, key)) }

func idemKeys(r store.IdemRecord, seq uint64) []ikey {
	return []ikey{listKey(bIdemAge, appendTime(nil, r.CreatedAt), seq)}
}

func (t *tx) InsertIdem(r store.IdemRecord) error {
	id := idemID(r.Scope, r.Key)
	seq, err := t.nextSeq(kIdem, id)
	if err != nil {
		return err
	}
	return t.insert(kIdem, id, seq, encodeIdem(r), idemKeys(r, seq))
}

func (t *tx) IdemRecord(scopeID, key string) (store.IdemRecord, error) {
	return get(t, kIdem, idemID(scopeID, key), decodeIdem)
}

func (t *tx) UpdateIdem(r store.IdemRecord) error {
	return t.update(kIdem, idemID(r.Scope, r.Key), encodeIdem(r), func(seq uint64) []ikey { return idemKeys(r, seq) },
		oldKeysOf(decodeIdem, idemKeys))
}

func (t *tx) DeleteIdem(scopeID, key string) error {
	if err := t.writable(); err != nil {
		return err
	}
	id := idemID(scopeID, key)
	seq, v, err := t.lookup(kIdem, id)
	if err != nil {
		return err
	}
	r, err := decodeIdem(v)
	if err != nil {
		return err
	}
	return t.remove(kIdem, seq, id, idemKeys(r, seq))
}

// PruneIdem walks the age index from the oldest record.
func (t *tx) PruneIdem(before time.Time, limit int) (int, error) {
	if err := t.writable(); err != nil {
		return 0, err
	}
	seqs, err := t.expired(bIdemAge, before, batch(limit), func(uint64) (bool, error) { return true, nil })
	if err != nil {
		return 0, err
	}
	prim := t.b(kIdem.primary)
	for _, seq := range seqs {
		v := prim.Get(seqKey(seq))
		if v == nil {
			return 0, errDangling(kIdem, seq)
		}
		r, err := decodeIdem(v)
		if err != nil {
			return 0, err
		}
		if err := t.remove(kIdem, seq, idemID(r.Scope, r.Key), idemKeys(r, seq)); err != nil {
			return 0, err
		}
	}
	return len(seqs), nil
}
