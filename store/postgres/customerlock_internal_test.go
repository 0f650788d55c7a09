package postgres

import "testing"

// TestEveryLockingReadClassified: a new locking read of a customer's table
// that is not in customerLocks would take its row lock without the
// customer's advisory lock and bring back the lock-order deadlocks.
func TestEveryLockingReadClassified(t *testing.T) {
	if len(lockingReads) < len(customerLocks)+len(notCustomerScoped) {
		t.Fatalf("%d locking reads registered, fewer than the %d classified", len(lockingReads),
			len(customerLocks)+len(notCustomerScoped))
	}
	for _, sql := range lockingReads {
		_, scoped := customerLocks[sql]
		if scoped == notCustomerScoped[sql] {
			t.Errorf("locking read must be in exactly one of customerLocks and notCustomerScoped:\n%s", sql)
		}
	}
}
