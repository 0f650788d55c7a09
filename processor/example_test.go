package processor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/processor"
)

// A retry test scripts a card that is short of funds twice, has a network
// error once, then pays; the default behaviour of the token resumes after.
func ExampleTest_Script() {
	ctx := context.Background()
	p := processor.NewTest(clock.NewTest(time.Date(2026, 3, 2, 13, 10, 0, 0, time.UTC)))
	p.Script(processor.CardOK, processor.InsufficientFunds, processor.InsufficientFunds, processor.NetworkError, "")

	for i := 1; i <= 5; i++ {
		c, err := p.Charge(ctx, processor.ChargeRequest{
			IdempotencyKey: fmt.Sprintf("pay_%d", i), PaymentMethod: processor.CardOK, Amount: 1999, Currency: "USD",
		})
		switch {
		case errors.Is(err, processor.ErrUnavailable):
			fmt.Printf("pay_%d: unavailable\n", i)
		case err != nil:
			fmt.Println(err)
		default:
			fmt.Printf("pay_%d: %s %s%s\n", i, c.ID, c.Status, strings.TrimRight(" "+c.DeclineCode, " "))
		}
	}
	fmt.Println("charges made:", p.ChargeCount())
	// Output:
	// pay_1: ch_test_1 failed INSUFFICIENT_FUNDS
	// pay_2: ch_test_2 failed INSUFFICIENT_FUNDS
	// pay_3: unavailable
	// pay_4: ch_test_3 succeeded
	// pay_5: ch_test_4 succeeded
	// charges made: 4
}

// The hosted authorisation flow: the customer follows the link and completes
// the page; the mandate is then authorised at that time.
func ExampleTest_CompleteMandate() {
	ctx := context.Background()
	clk := clock.NewTest(time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC))
	p := processor.NewTest(clk)
	m, _ := p.AuthorizeMandate(ctx, processor.MandateRequest{
		IdempotencyKey: "sub_1", PaymentMethod: processor.CardRequiresAction,
		PaymentLink: true, ReturnURL: "https://shop.example/done",
	})
	fmt.Println(m.Status, m.PaymentLink)

	clk.Advance(10 * time.Minute)
	_, _ = p.CompleteMandate(m.ID, true)
	m, _ = p.MandateStatus(ctx, m.ID)
	fmt.Println(m.Status, m.AuthorizedAt.Format(time.DateTime))
	// Output:
	// requires_action https://pay.test/authorize/mdt_test_1?return_url=https%3A%2F%2Fshop.example%2Fdone
	// authorized 2026-03-02 13:10:00
}
