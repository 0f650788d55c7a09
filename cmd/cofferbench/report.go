package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cofferhq/coffer/store/bolt"
)

// machine describes where the numbers came from.
type machine struct {
	cpus     int
	platform string
	model    string
	goVer    string
	load     string
	postgres string
	modules  string // bbolt and pgx versions, from the build info
}

func describeMachine(ctx context.Context, pg *pgEnv) machine {
	m := machine{cpus: runtime.NumCPU(), platform: runtime.GOOS + "/" + runtime.GOARCH, goVer: runtime.Version(),
		model: cpuModel(), load: loadAvg(), modules: moduleVersions()}
	if pg != nil {
		m.postgres = "PostgreSQL " + pg.version
	}
	return m
}

// moduleVersions names the store libraries this binary was built with.
func moduleVersions() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var out []string
	for _, d := range bi.Deps {
		switch d.Path {
		case "go.etcd.io/bbolt":
			out = append(out, "bbolt "+d.Version)
		case "github.com/jackc/pgx/v5":
			out = append(out, "pgx "+d.Version)
		}
	}
	return strings.Join(out, ", ")
}

// cpuModel reads the first "model name" of /proc/cpuinfo (Linux).
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadAvg is the 1/5/15-minute load average (Linux), so a reader can tell a
// busy machine's figures from a quiet one's.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func printHeader(w io.Writer, cfg config, m machine, sizes map[string]recordSizes) {
	fmt.Fprintf(w, "cofferbench %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "machine: %d CPUs (runtime.NumCPU), %s, %s, %s", m.cpus, m.platform, m.model, m.goVer)
	if m.load != "" {
		fmt.Fprintf(w, ", load average %s at start", m.load)
	}
	fmt.Fprintln(w)
	if m.modules != "" {
		fmt.Fprintf(w, "stores: memory, %s\n", m.modules)
	}
	if m.postgres != "" {
		fmt.Fprintf(w, "postgres: %s, pool of %d connections for coffer and for raw pgx\n", m.postgres, cfg.pgConns)
	}
	fmt.Fprintf(w, "settings: %s per cell and contender in %d alternating rounds; bolt fsyncs every commit (batch %v / %d)\n",
		cfg.duration, cfg.rounds, bolt.DefaultMaxBatchDelay, bolt.DefaultMaxBatchSize)
	fmt.Fprintln(w, "entry:  CreateEntry, 1-unit USD credit with a fresh idempotency key")
	fmt.Fprintln(w, "charge: Charge of 1.00 USD with a fresh idempotency key on an active mandate_only subscription, wallet empty:")
	fmt.Fprintln(w, "        pending-payment tx (with the payment's invoice number), processor.NewTest call, settling tx")
	fmt.Fprintln(w, "mixed:  35% Charge (wallet first), 25% Refund of a recent payment, 40% CreateEntry (credit or debit) per wallet;")
	fmt.Fprintln(w, "        typed refusals count as done; no raw substrate")
	fmt.Fprintln(w, "http:   the entry POSTed to the HTTP API (httpapi on a 127.0.0.1 net/http server, keep-alive, one connection")
	fmt.Fprintln(w, "        per writer); its raw column is Engine.CreateEntry on a store of its own, so coffer/raw is HTTP/Engine")
	if sz, ok := sizes[pathEntry]; ok {
		fmt.Fprintf(w, "raw bolt puts per op: entry %d B + balance %d B + event %d B; charge: payment %d B + invoice counter 8 B + invoice %d B, then payment %d B + event %d B + subscription %d B\n",
			sz.entry, sz.balance, sz.entryEvent, sz.payment, sz.invoice, sz.payment, sz.chargeEvent, sz.subscription)
	}
	fmt.Fprintln(w)
}

func printTable(w io.Writer, md bool, rows []row) {
	num := func(v float64) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f", v)
	}
	ratio := func(r row) string {
		if r.coffer == 0 || r.raw == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f%%", 100*r.coffer/r.raw)
	}
	spread := func(n int) string {
		if n == 1 {
			return "hot (1)"
		}
		return fmt.Sprintf("spread (%d)", n)
	}
	head := []string{"path", "store", "writers", "wallets", "coffer ops/s", "raw ops/s", "coffer/raw", "note"}
	if md {
		fmt.Fprintln(w, "| "+strings.Join(head, " | ")+" |")
		fmt.Fprintln(w, "|---|---|---:|---|---:|---:|---:|---|")
		for _, r := range rows {
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s |\n", r.path, r.store, r.writers, spread(r.wallets),
				num(r.coffer), num(r.raw), ratio(r), strings.ReplaceAll(r.note, "|", "/"))
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.path, r.store, r.writers, spread(r.wallets),
			num(r.coffer), num(r.raw), ratio(r), r.note)
	}
	tw.Flush()
}
