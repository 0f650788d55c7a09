package ledger

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/wallet"
)

var gt0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func grant(id string, prio int, exp time.Time, age int, remaining int64) Grant {
	return Grant{ID: id, EntryID: id, Kind: KindGranted, Priority: prio, ExpiresAt: exp, Amount: remaining,
		Remaining: remaining, CreatedAt: gt0.Add(time.Duration(age) * time.Second)}
}

func TestGrantOrder(t *testing.T) {
	soon, late := gt0.Add(time.Hour), gt0.Add(2*time.Hour)
	gs := []Grant{
		grant("never-old", 0, time.Time{}, 1, 1),
		grant("late", 0, late, 2, 1),
		grant("prio1", 1, soon, 0, 1),
		grant("soon-new", 0, soon, 5, 1),
		grant("prio-1", -1, time.Time{}, 9, 1),
		grant("soon-old", 0, soon, 3, 1),
		grant("never-new", 0, time.Time{}, 7, 1),
	}
	SortGrants(gs)
	var ids []string
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	require.Equal(t, []string{"prio-1", "soon-old", "soon-new", "late", "never-old", "never-new", "prio1"}, ids)
}

func TestAllocateUntrackedPosition(t *testing.T) {
	gs := []Grant{grant("neg", -1, time.Time{}, 0, 2), grant("exp", 0, gt0.Add(time.Hour), 0, 3),
		grant("never", 0, time.Time{}, 0, 4), grant("pos", 1, time.Time{}, 0, 5)}
	a, err := Allocate(gs, 10, 21)
	require.NoError(t, err)
	// Untracked credit comes after the expiring priority-0 grant and before
	// the non-expiring one (it is older than every grant).
	require.Equal(t, []Allocation{{"neg", 2}, {"exp", 3}, {"", 10}, {"never", 4}, {"pos", 2}}, a)
	_, err = Allocate(gs, 10, 25)
	require.ErrorIs(t, err, wallet.ErrInsufficientFunds)
	gs[1].Held = 3
	a, err = Allocate(gs, 0, 3)
	require.NoError(t, err)
	require.Equal(t, []Allocation{{"neg", 2}, {"never", 1}}, a, "a held grant is skipped")
}

func TestApplyAndUntracked(t *testing.T) {
	gs := []Grant{grant("a", 0, time.Time{}, 0, 5)}
	changed, err := Apply(gs, []Allocation{{"a", 3}, {"", 2}}, 0, 1)
	require.NoError(t, err)
	require.Equal(t, int64(3), changed[0].Held)
	u, uh := Untracked(wallet.Balance{Amount: 9, Held: 5}, gs)
	require.Equal(t, int64(4), u)
	require.Equal(t, int64(2), uh)
	_, err = Apply(gs, []Allocation{{"a", 3}}, 1, 0)
	require.Error(t, err, "consuming a held part breaks the grant's bounds")
	_, err = Apply(gs, []Allocation{{"zz", 1}}, 1, 0)
	require.Error(t, err)
}

func TestCreditTermsFingerprint(t *testing.T) {
	base := Request{Amount: 100, Currency: "USD", Type: Credit, Reason: "r"}
	plain := base
	plain.Credit = &CreditTerms{Kind: KindPaid}
	require.Equal(t, base.Fingerprint(), plain.Fingerprint(), "plain terms keep the fingerprint")
	exp := base
	exp.Credit = &CreditTerms{Kind: KindGranted, ExpiresAt: gt0}
	other := base
	other.Credit = &CreditTerms{Kind: KindGranted, ExpiresAt: gt0.Add(time.Microsecond)}
	require.NotEqual(t, base.Fingerprint(), exp.Fingerprint())
	require.NotEqual(t, exp.Fingerprint(), other.Fingerprint())
	require.ErrorIs(t, Request{Amount: 1, Currency: "USD", Type: Debit, Credit: &CreditTerms{Priority: 1}}.Validate(), ErrInvalidCredit)
}
