// Command dunning walks coffer's default payment-retry schedule (attempt 1
// when the charge is made, retries on days 3, 10 and 17 at the mandate's
// UTC time of day, a notice 24 hours before each) for two customers, on an
// in-memory store with a test clock, so 17 days pass in milliseconds:
//
//   - Ada's card keeps failing with INSUFFICIENT_FUNDS: after attempt 4 her
//     subscription is on hold and she is delinquent.
//   - Grace's issuer is unavailable twice; when she gets the notice of
//     attempt 3 she tops up her wallet with 10.00, and attempt 3 takes the
//     wallet first and the remaining 15.00 from her card.
//
// Every attempt is printed with its time in UTC and in a display zone
// (-zone, default America/New_York: the March daylight-saving change falls
// inside the schedule, and the attempts stay at 13:10 UTC).
//
//	go run ./examples/dunning
//	go run ./examples/dunning -zone Asia/Kolkata
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"text/tabwriter"
	"time"
	_ "time/tzdata" // display zones on machines without a zoneinfo database

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

func main() {
	zoneName := flag.String("zone", "America/New_York", "IANA zone to display times in (scheduling is UTC)")
	flag.Parse()
	log.SetFlags(0)
	zone, err := time.LoadLocation(*zoneName)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(context.Background(), zone); err != nil {
		log.Fatal(err)
	}
}

// demo is the state of the walk: the engine and its fakes, who is who, and
// how far the event log has been printed.
type demo struct {
	ctx   context.Context
	eng   *coffer.Engine
	clk   *clock.Test
	proc  *processor.Test
	zone  *time.Location
	names map[string]string // customer id -> name
	seq   int64             // last event printed
	out   *tabwriter.Writer
}

func run(ctx context.Context, zone *time.Location) error {
	started := time.Now()
	mandate := time.Date(2026, 3, 2, 13, 10, 0, 0, time.UTC)
	clk := clock.NewTest(mandate)
	proc := processor.NewTest(clk)
	st := memory.New()
	defer st.Close()
	eng, err := coffer.New(st, coffer.WithClock(clk), coffer.WithProcessor(proc))
	if err != nil {
		return err
	}
	d := &demo{ctx: ctx, eng: eng, clk: clk, proc: proc, zone: zone, names: map[string]string{},
		out: tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)}

	fmt.Printf("Default retry policy: attempts on days 0, 3, 10, 17 at the mandate's time of day (UTC),\n")
	fmt.Printf("a notice 24h before each; times shown in UTC and %s.\n\n", zone)

	prod, err := eng.CreateProduct(ctx, coffer.ProductParams{Name: "Pro plan", Description: "Pro plan, monthly usage",
		Price: 25_00, Currency: "USD"})
	if err != nil {
		return err
	}
	// Grace's issuer is unavailable for attempts 1 and 2; attempt 3's
	// card part goes through.
	proc.Script(processor.CardIssuerUnavailable, processor.IssuerUnavailable, processor.IssuerUnavailable, "")
	subs := map[string]string{} // name -> subscription id
	for _, c := range []struct{ name, card string }{
		{"Ada", processor.CardInsufficientFunds},
		{"Grace", processor.CardIssuerUnavailable},
	} {
		res, err := eng.CreateSubscription(ctx, coffer.SubscriptionParams{
			ProductID: prod.ID, Quantity: 1, PaymentMethod: c.card,
			Customer: &customer.Params{Name: new(c.name)},
			OnDemand: &coffer.OnDemand{MandateOnly: new(false)}, // charge now: attempt 1
		})
		if err != nil {
			return err
		}
		d.names[res.Subscription.CustomerID] = c.name
		subs[c.name] = res.Subscription.ID
	}
	fmt.Fprintln(d.out, "time (UTC)\t"+zone.String()+"\tcustomer\twhat")
	if err := d.printEvents(); err != nil {
		return err
	}

	// Move the clock to the next piece of due work (a notice or an
	// attempt) and make a scheduler pass, until nothing is scheduled.
	for {
		next, ok, err := nextRunAt(ctx, eng, subs)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		clk.Set(next)
		if _, err := eng.RunDue(ctx); err != nil {
			return err
		}
		if err := d.printEvents(); err != nil {
			return err
		}
	}
	d.out.Flush()

	fmt.Println("\nFinal state:")
	for _, name := range []string{"Ada", "Grace"} {
		sub, err := eng.Subscription(ctx, subs[name])
		if err != nil {
			return err
		}
		over, err := eng.Overdue(ctx, sub.CustomerID)
		if err != nil {
			return err
		}
		due := "nothing overdue"
		if len(over.Due) > 0 {
			due = "overdue " + over.Due[0].String()
		}
		page, err := eng.ListAttempts(ctx, coffer.AttemptListParams{SubscriptionID: sub.ID})
		if err != nil {
			return err
		}
		attempts := page.Data
		fmt.Printf("  %-6s subscription %-8s delinquent=%-5v %s; retries: %s\n",
			name, sub.Status, over.Delinquent, due, summary(attempts))
	}
	fmt.Printf("\nWalked %d days of schedule in %v (processor charged %d times).\n",
		int(clk.Now().Sub(mandate)/retry.Day), time.Since(started).Round(time.Microsecond), proc.ChargeCount())
	return nil
}

// nextRunAt is the earliest RunAt among the active attempts of subs: the
// next moment a scheduler pass has something to do.
func nextRunAt(ctx context.Context, eng *coffer.Engine, subs map[string]string) (at time.Time, ok bool, err error) {
	for _, id := range subs {
		for a, err := range coffer.Iterate(ctx, coffer.AttemptListParams{SubscriptionID: id}, eng.ListAttempts) {
			if err != nil {
				return at, false, err
			}
			if a.Status.Active() && (!ok || a.RunAt.Before(at)) {
				at, ok = a.RunAt, true
			}
		}
	}
	return at, ok, nil
}

// printEvents prints the outbox events written since the last call, and
// plays Grace's application: on the notice of her attempt 3 she tops up
// her wallet.
func (d *demo) printEvents() error {
	var events []webhook.Event
	err := d.eng.View(d.ctx, func(tx store.ReadTx) (err error) {
		events, err = tx.Events(d.seq, 1000)
		return err
	})
	if err != nil {
		return err
	}
	// A failed charge's transaction writes the retry it schedules (or the
	// hold) before the payment.failed event; print them after it.
	after := map[string][]string{}
	line := func(ev webhook.Event, what string) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\n", ev.CreatedAt.UTC().Format("2006-01-02 15:04 MST"),
			ev.CreatedAt.In(d.zone).Format("Jan 02 15:04 MST"), d.names[ev.CustomerID], what)
	}
	for _, ev := range events {
		d.seq = ev.Seq
		name := d.names[ev.CustomerID]
		var what string
		switch ev.Type {
		case coffer.EventPaymentFailed, coffer.EventPaymentSucceeded:
			var p subscription.Payment
			if err := json.Unmarshal(ev.Data, &p); err != nil {
				return err
			}
			what = fmt.Sprintf("attempt %d %s", max(p.RetryAttempt, 1), p.Status)
			if p.Status == subscription.PaymentFailed {
				what += " " + p.DeclineCode
			} else {
				what += fmt.Sprintf(": %s from the wallet, %s from the card",
					money.Format(p.WalletAmount, p.Currency), money.Format(p.ProcessorAmount, p.Currency))
			}
		case coffer.EventRetryScheduled:
			var a retry.Attempt
			if err := json.Unmarshal(ev.Data, &a); err != nil {
				return err
			}
			after[ev.CustomerID] = append(after[ev.CustomerID], line(ev, fmt.Sprintf("  attempt %d scheduled for %s", a.Number, d.both(a.DueAt))))
			continue
		case coffer.EventRetryUpcoming:
			var a retry.Attempt
			if err := json.Unmarshal(ev.Data, &a); err != nil {
				return err
			}
			what = fmt.Sprintf("notice: attempt %d of %s is due %s", a.Number,
				money.Format(a.Amount, a.Currency)+" "+a.Currency, d.both(a.DueAt))
			if name == "Grace" && a.Number == 3 {
				if _, err := d.eng.CreateEntry(d.ctx, ev.CustomerID, coffer.EntryParams{Amount: 10_00, Currency: "USD",
					Type: ledger.Credit, Reason: "Top-up after the retry notice", IdempotencyKey: "topup-" + a.ID}); err != nil {
					return err
				}
				what += " -> Grace tops up her wallet with 10.00 USD"
			}
		case coffer.EventSubscriptionOnHold:
			after[ev.CustomerID] = append(after[ev.CustomerID], line(ev, "subscription on_hold (no retry left)"))
			continue
		case coffer.EventCustomerDelinquent:
			what = "customer delinquent"
		default:
			continue
		}
		fmt.Fprint(d.out, line(ev, what))
		if ev.Type == coffer.EventPaymentFailed {
			for _, l := range after[ev.CustomerID] {
				fmt.Fprint(d.out, l)
			}
			delete(after, ev.CustomerID)
		}
	}
	for _, ev := range events { // leftovers, in event order
		for _, l := range after[ev.CustomerID] {
			fmt.Fprint(d.out, l)
		}
		delete(after, ev.CustomerID)
	}
	return nil
}

// both formats t in UTC and in the display zone.
func (d *demo) both(t time.Time) string {
	return t.UTC().Format("Jan 02 15:04 MST") + " (" + t.In(d.zone).Format("15:04 MST") + ")"
}

// summary lists the attempts as number:status.
func summary(list []retry.Attempt) string {
	s := ""
	for i, a := range list {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("#%d %s", a.Number, a.Status)
	}
	return s
}
