package memory

import (
	"bytes"
	"slices"
	"time"

	"github.com/cofferhq/coffer/apikey"
	"github.com/cofferhq/coffer/store"
)

// ---- API keys

type keyNode = node[apikey.Key]

// keyTable holds the API keys: by id, by hash (unique), and in the lists
// index under scope "key" (by CreatedAt, seq).
type keyTable struct {
	byID   map[string]*keyNode
	byHash map[string]*keyNode
}

func copyKey(k apikey.Key) apikey.Key {
	k.Hash = bytes.Clone(k.Hash)
	return k
}

func keyEntry(k apikey.Key, seq int64) entry {
	return entry{[]string{scopeOf("key")}, tkeyOf(k.CreatedAt, seq)}
}

func (t *tx) InsertAPIKey(k apikey.Key) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	if _, ok := s.keys.byID[k.ID]; ok {
		return duplicate("api key", k.ID)
	}
	if _, ok := s.keys.byHash[string(k.Hash)]; ok {
		return duplicate("api key hash", k.ID)
	}
	n := &keyNode{seq: s.nextSeq(), v: copyKey(k)}
	s.keys.byID[k.ID] = n
	s.keys.byHash[string(k.Hash)] = n
	s.lists.add(keyEntry(n.v, n.seq), k.ID)
	s.w.add(opFunc, func() {
		s.lists.del(keyEntry(n.v, n.seq))
		delete(s.keys.byHash, string(n.v.Hash))
		delete(s.keys.byID, n.v.ID)
	}, "", 0)
	return nil
}

func (t *tx) UpdateAPIKey(k apikey.Key) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	n, ok := s.keys.byID[k.ID]
	if !ok {
		return notFound("api key", k.ID)
	}
	if o, ok := s.keys.byHash[string(k.Hash)]; ok && o != n {
		return duplicate("api key hash", k.ID)
	}
	old := n.v
	s.keys.set(s, n, copyKey(k))
	s.w.add(opFunc, func() { s.keys.set(s, n, old) }, "", 0)
	return nil
}

// set replaces n's value with v, moving its hash and list entries.
func (kt *keyTable) set(s *Store, n *keyNode, v apikey.Key) {
	if kt.byHash[string(n.v.Hash)] == n {
		delete(kt.byHash, string(n.v.Hash))
	}
	kt.byHash[string(v.Hash)] = n
	s.lists.move(keyEntry(n.v, n.seq), keyEntry(v, n.seq), v.ID)
	n.v = v
}

func (t *tx) APIKey(id string) (apikey.Key, error) {
	n, ok := t.s.keys.byID[id]
	if !ok {
		return apikey.Key{}, notFound("api key", id)
	}
	return copyKey(n.v), nil
}

func (t *tx) APIKeyByHash(hash []byte) (apikey.Key, error) {
	n, ok := t.s.keys.byHash[string(hash)]
	if !ok || len(hash) == 0 {
		return apikey.Key{}, notFound("api key", "by hash")
	}
	return copyKey(n.v), nil
}

func (t *tx) QueryAPIKeys(q store.APIKeyListQuery) ([]apikey.Key, bool, error) {
	s := t.s
	pl := plan{scopes: []string{scopeOf("key")}, desc: true, p: q.Page, what: "api key"}
	return query(t, pl, nodeKey(s.keys.byID, func(v *apikey.Key) time.Time { return v.CreatedAt }),
		func(id string) (apikey.Key, bool) { return copyKey(s.keys.byID[id].v), true })
}

// ---- HTTP idempotency records

type idemNode = node[store.IdemRecord]

// idemTable holds the idempotency records by (scope, key) and, for
// PruneIdem, by (CreatedAt, seq).
type idemTable struct {
	byKey map[pair]*idemNode
	byAge *skiplist[*idemNode]
}

func copyIdem(r store.IdemRecord) store.IdemRecord {
	r.RequestHash = bytes.Clone(r.RequestHash)
	r.Body = bytes.Clone(r.Body)
	return r
}

func (it *idemTable) link(n *idemNode) {
	it.byKey[pair{n.v.Scope, n.v.Key}] = n
	it.byAge.insert(key(n.v.CreatedAt, n.seq), n)
}

func (it *idemTable) unlink(n *idemNode) {
	delete(it.byKey, pair{n.v.Scope, n.v.Key})
	it.byAge.delete(key(n.v.CreatedAt, n.seq))
}

func (t *tx) InsertIdem(r store.IdemRecord) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	if _, ok := s.idem.byKey[pair{r.Scope, r.Key}]; ok {
		return duplicate("idempotency record", r.Key)
	}
	n := &idemNode{seq: s.nextSeq(), v: copyIdem(r)}
	s.idem.link(n)
	s.w.add(opFunc, func() { s.idem.unlink(n) }, "", 0)
	return nil
}

func (t *tx) IdemRecord(scope, k string) (store.IdemRecord, error) {
	n, ok := t.s.idem.byKey[pair{scope, k}]
	if !ok {
		return store.IdemRecord{}, notFound("idempotency record", k)
	}
	return copyIdem(n.v), nil
}

func (t *tx) UpdateIdem(r store.IdemRecord) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	n, ok := s.idem.byKey[pair{r.Scope, r.Key}]
	if !ok {
		return notFound("idempotency record", r.Key)
	}
	old := n.v
	s.idem.unlink(n)
	n.v = copyIdem(r)
	s.idem.link(n)
	s.w.add(opFunc, func() {
		s.idem.unlink(n)
		n.v = old
		s.idem.link(n)
	}, "", 0)
	return nil
}

func (t *tx) DeleteIdem(scope, k string) error {
	if err := t.write(); err != nil {
		return err
	}
	s := t.s
	n, ok := s.idem.byKey[pair{scope, k}]
	if !ok {
		return notFound("idempotency record", k)
	}
	s.idem.unlink(n)
	s.w.add(opFunc, func() { s.idem.link(n) }, "", 0)
	return nil
}

// PruneIdem walks the records by age from the oldest.
func (t *tx) PruneIdem(before time.Time, limit int) (int, error) {
	if err := t.write(); err != nil {
		return 0, err
	}
	s := t.s
	limit = batch(limit)
	var gone []*idemNode
	for x := s.idem.byAge.first(); x != nil && len(gone) < limit && x.k.at.Before(before); x = x.next[0] {
		gone = append(gone, x.v)
	}
	for _, n := range gone {
		s.idem.unlink(n)
	}
	if len(gone) > 0 {
		gone = slices.Clip(gone)
		s.w.add(opFunc, func() {
			for _, n := range gone {
				s.idem.link(n)
			}
		}, "", 0)
	}
	return len(gone), nil
}
