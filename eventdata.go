package coffer

import (
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/wallet"
)

// BalanceChanged is the data of a wallet.balance_changed event: the ledger
// entry and the wallet balance right after it.
type BalanceChanged struct {
	Entry   ledger.Entry   `json:"entry"`
	Balance wallet.Balance `json:"balance"`
}

// BalanceLow is the data of a wallet.balance_low event: the balance after
// the change that took its available amount below Threshold (minor units of
// the balance's currency).
type BalanceLow struct {
	Balance   wallet.Balance `json:"balance"`
	Threshold int64          `json:"threshold"`
}

// CreditExpired is the data of a wallet.credit_expired event: the grant
// after the expiry (Expired counts what expired), the "Expired credit"
// debit entry (reference type expiry, id the grant's) and the balance after
// it.
type CreditExpired struct {
	Grant   ledger.Grant   `json:"grant"`
	Entry   ledger.Entry   `json:"entry"`
	Balance wallet.Balance `json:"balance"`
}
