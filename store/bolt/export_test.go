package bolt

import "go.etcd.io/bbolt"

// RawDB exposes the bbolt handle to the external tests (key counts).
func RawDB(s *Store) *bbolt.DB { return s.db }
