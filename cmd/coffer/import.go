package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cofferhq/coffer"
)

// importCmd: import [-format csv|jsonl] [-batch N] [-stop-on-error] FILE.
//
// CSV: a header row, then one customer per row. Columns: did (required:
// the row's import key), name, email, phone_number, description, and
// balance_<CUR> (an opening balance in minor units, e.g. balance_USD;
// empty for none). JSON lines: one coffer.ImportRow per line, e.g.
//
//	{"customer":{"did":"ext-1","name":"Ada","email":"ada@example.com"},"balances":[{"currency":"USD","amount":1000}]}
//
// Row numbers count data rows from 1: in JSON lines the row is the line,
// in CSV the line is the row + 1 (the header). "-" reads standard input. Exit status 1 when a row was invalid (each is
// listed with its row number) or the import stopped; re-running the same
// file imports only the rows not yet imported.
func importCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", stderr)
	var sc storeConfig
	sc.register(fs, getenv)
	format := fs.String("format", "", "csv or jsonl (default: from the file's extension)")
	batch := fs.Int("batch", coffer.DefaultImportBatch, fmt.Sprintf("rows per transaction, 1..%d", coffer.MaxImportBatch))
	stop := fs.Bool("stop-on-error", false, "stop at the first invalid row instead of skipping it")
	reason := fs.String("reason", coffer.OpeningBalanceReason, "reason of the opening-balance entries")
	currencies := fs.String("currencies", "USD,INR", "the engine's enabled currencies (comma-separated ISO-4217 codes)")
	quiet := fs.Bool("q", false, "no progress lines")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("import [-format csv|jsonl] [-batch N] [-stop-on-error] FILE")
	}
	name := pos[0]
	if *format == "" {
		switch {
		case strings.HasSuffix(name, ".csv"):
			*format = "csv"
		case strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".ndjson"):
			*format = "jsonl"
		default:
			return usageErr("-format csv|jsonl is needed for %s", name)
		}
	}
	if *format != "csv" && *format != "jsonl" {
		return usageErr("-format must be csv or jsonl")
	}
	if *batch < 1 || *batch > coffer.MaxImportBatch {
		return usageErr("-batch must be 1..%d", coffer.MaxImportBatch)
	}
	if err := sc.check(); err != nil {
		return err
	}
	var in io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	eng, closeEngine, err := openEngine(ctx, sc, coffer.WithoutProcessor(), coffer.WithCurrencies(strings.Split(*currencies, ",")...))
	if err != nil {
		return err
	}
	defer closeEngine()
	rows := jsonlRows(in)
	if *format == "csv" {
		rows = csvRows(in)
	}
	start := time.Now()
	p := coffer.ImportParams{BatchSize: *batch, StopOnError: *stop, Reason: *reason}
	if !*quiet {
		p.OnBatch = func(r coffer.ImportReport) {
			fmt.Fprintf(stderr, "committed through row %d: %d imported, %d existing, %d invalid (%s)\n",
				r.LastRow, r.Imported, r.Existing, r.Failed, time.Since(start).Round(time.Millisecond))
		}
	}
	rep, err := eng.ImportCustomers(ctx, p, rows)
	d := time.Since(start)
	for _, re := range rep.Errors {
		where := ""
		if *format == "csv" {
			where = fmt.Sprintf(" (line %d)", re.Row+1) // the header is line 1
		}
		fmt.Fprintf(stdout, "invalid %s%s\n", re.Error(), where)
	}
	if rep.Failed > len(rep.Errors) {
		fmt.Fprintf(stdout, "... and %d more invalid rows\n", rep.Failed-len(rep.Errors))
	}
	fmt.Fprintf(stdout, "%d rows: %d imported, %d already there, %d invalid; %d opening-balance entries; %d transactions; %s (%.0f rows/s)\n",
		rep.Rows, rep.Imported, rep.Existing, rep.Failed, rep.Entries, rep.Batches, d.Round(time.Millisecond),
		float64(rep.Rows)/max(d.Seconds(), 1e-9))
	var re *coffer.ImportRowError
	switch {
	case errors.As(err, &re):
		return fmt.Errorf("stopped at row %d (rows before it are committed; fix it and run the same file again)", re.Row)
	case err != nil:
		return fmt.Errorf("%w (rows through %d are committed; run the same file again to resume)", err, rep.LastRow)
	case rep.Failed > 0:
		return fmt.Errorf("%d invalid rows were skipped", rep.Failed)
	}
	return nil
}

// rowErr is a line that does not parse: a row error, not a failed read.
// The report names its row (the CLI adds a CSV row's line).
func rowErr(_ int, format string, a ...any) error {
	return fmt.Errorf("%w: %s", coffer.ErrInvalid, fmt.Sprintf(format, a...))
}

func jsonlRows(r io.Reader) iter.Seq2[coffer.ImportRow, error] {
	return func(yield func(coffer.ImportRow, error) bool) {
		br := bufio.NewReaderSize(r, 1<<20)
		for line := 1; ; line++ {
			b, err := br.ReadBytes('\n')
			if len(b) == 0 && err == io.EOF {
				return
			}
			if err != nil && err != io.EOF {
				yield(coffer.ImportRow{}, err)
				return
			}
			var row coffer.ImportRow
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.DisallowUnknownFields()
			var perr error
			if err := dec.Decode(&row); err != nil {
				perr = rowErr(line, "%v", err)
			}
			if !yield(row, perr) {
				return
			}
		}
	}
}

func csvRows(r io.Reader) iter.Seq2[coffer.ImportRow, error] {
	return func(yield func(coffer.ImportRow, error) bool) {
		cr := csv.NewReader(bufio.NewReaderSize(r, 1<<20))
		cr.FieldsPerRecord = -1
		cr.ReuseRecord = true
		head, err := cr.Read()
		if err != nil {
			if err == io.EOF {
				err = errors.New("csv: empty file (a header row is needed)")
			}
			yield(coffer.ImportRow{}, err)
			return
		}
		cols := make([]string, len(head))
		seen := map[string]bool{}
		for i, h := range head {
			h = strings.TrimSpace(h)
			switch {
			case h == "did", h == "name", h == "email", h == "phone_number", h == "description":
			case strings.HasPrefix(h, "balance_") && len(h) > len("balance_"):
				h = "balance_" + strings.ToUpper(h[len("balance_"):])
			default:
				yield(coffer.ImportRow{}, fmt.Errorf("csv: unknown column %q (want did, name, email, phone_number, description, balance_<CUR>)", h))
				return
			}
			if seen[h] {
				yield(coffer.ImportRow{}, fmt.Errorf("csv: column %q twice", h))
				return
			}
			seen[h], cols[i] = true, h
		}
		for line := 2; ; line++ {
			rec, err := cr.Read()
			if err == io.EOF {
				return
			}
			var row coffer.ImportRow
			var perr error
			switch {
			case errors.Is(err, csv.ErrFieldCount), errors.Is(err, csv.ErrQuote), errors.Is(err, csv.ErrBareQuote):
				perr = rowErr(line, "%v", err)
			case err != nil:
				yield(row, err)
				return
			case len(rec) != len(cols):
				perr = rowErr(line, "%d fields, the header has %d", len(rec), len(cols))
			default:
				row, perr = csvRow(line, cols, rec)
			}
			if !yield(row, perr) {
				return
			}
		}
	}
}

func csvRow(line int, cols, rec []string) (coffer.ImportRow, error) {
	var row coffer.ImportRow
	p := &row.Customer
	for i, v := range rec {
		if v == "" {
			continue
		}
		switch c := cols[i]; c {
		case "did":
			p.DID = new(v)
		case "name":
			p.Name = new(v)
		case "email":
			p.Email = new(v)
		case "phone_number":
			p.Phone = new(v)
		case "description":
			p.Description = new(v)
		default:
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return row, rowErr(line, "%s: %q is not an amount in minor units", c, v)
			}
			row.Balances = append(row.Balances, coffer.OpeningBalance{Currency: c[len("balance_"):], Amount: n})
		}
	}
	return row, nil
}
