// Package txn holds the store transaction helper every coffer service
// shares.
package txn

import (
	"context"
	"errors"

	"github.com/cofferhq/coffer/store"
)

// Update runs fn in a read-write transaction of s. A store.ErrDuplicate
// that escapes fn means a concurrent writer (another engine on the same
// database) won a unique key between our read and our insert; re-running
// fn lets it see the committed record and answer as a replay or a
// conflict. fn runs at most three times.
func Update(ctx context.Context, s store.Store, fn func(store.Tx) error) error {
	var err error
	for try := 0; try < 3; try++ {
		err = s.Update(ctx, fn)
		if !errors.Is(err, store.ErrDuplicate) {
			return err
		}
	}
	return err
}
