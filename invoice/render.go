package invoice

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/go-pdf/fpdf"

	"github.com/cofferhq/coffer/money"
)

// Amount formats minor units of currency for display, as money.Format
// does, with a minus sign for a negative amount and the currency code:
// "12.34 USD", "-5.00 USD".
func Amount(minor int64, currency string) string {
	if minor < 0 {
		if minor == -minor { // math.MinInt64 has no positive counterpart
			return money.Format(minor, currency) + " " + currency
		}
		return "-" + money.Format(-minor, currency) + " " + currency
	}
	return money.Format(minor, currency) + " " + currency
}

// AddressLines returns the non-empty lines of an address: the street lines,
// "postal code city", "state country".
func AddressLines(a *Address) []string {
	if a == nil {
		return nil
	}
	var out []string
	add := func(parts ...string) {
		var keep []string
		for _, p := range parts {
			if p = strings.TrimSpace(p); p != "" {
				keep = append(keep, p)
			}
		}
		if len(keep) > 0 {
			out = append(out, strings.Join(keep, " "))
		}
	}
	add(a.Line1)
	add(a.Line2)
	add(a.PostalCode, a.City)
	add(a.State, a.Country)
	return out
}

// TotalRow is one labelled line of an invoice's totals; Strong marks the
// totals shown in bold (total, amount due, net paid).
type TotalRow struct {
	Label, Value string
	Strong       bool
}

type row = TotalRow

// Totals returns the labelled totals of the document, in display order:
// subtotal, fee (when not zero), total, then for a receipt the wallet
// applied, the payment method charged, the amount paid and the refunds,
// or the amount due while not paid.
func (d Document) Totals() []TotalRow {
	c := d.Currency
	rows := []row{{Label: "Subtotal", Value: Amount(d.Subtotal, c)}}
	if d.Fee != 0 {
		label := "Adaptive-currency fee"
		if d.FeesInclusive {
			label += " (included in the price)"
		}
		rows = append(rows, row{Label: label, Value: Amount(d.Fee, c)})
	}
	rows = append(rows, row{Label: "Total", Value: Amount(d.Total, c), Strong: true})
	if d.Receipt() {
		if d.WalletApplied != 0 {
			rows = append(rows, row{Label: "Paid from wallet", Value: Amount(d.WalletApplied, c)})
		}
		if d.CardCharged != 0 {
			label := "Charged to payment method"
			if d.PaymentMethod != "" {
				label += " " + d.PaymentMethod
			}
			rows = append(rows, row{Label: label, Value: Amount(d.CardCharged, c)})
		}
		rows = append(rows, row{Label: "Amount paid", Value: Amount(d.AmountPaid, c)})
		if d.Refunded != 0 {
			rows = append(rows, row{Label: "Refunded", Value: Amount(-d.Refunded, c)},
				row{Label: "Net paid", Value: Amount(d.Net, c), Strong: true})
		}
	} else {
		rows = append(rows, row{Label: "Amount due", Value: Amount(d.AmountDue, c), Strong: true})
	}
	return rows
}

var htmlTmpl = template.Must(template.New("invoice").Funcs(template.FuncMap{
	"amount": Amount, "lines": AddressLines, "neg": func(v int64) int64 { return -v },
	"date": func(t interface{ Format(string) string }) string { return t.Format("2006-01-02") },
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.D.Title}} {{.D.Number}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:50rem;color:#111}
table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{padding:.35rem .5rem;border-bottom:1px solid #ddd;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dd{margin:0}
address{font-style:normal}
.parties{display:flex;gap:3rem}.parties section{flex:1}
.status{display:inline-block;padding:.1rem .5rem;border:1px solid #555;border-radius:.25rem}
</style>
</head>
<body>
<main>
<header>
<h1>{{.D.Title}} {{.D.Number}}</h1>
<p>Status: <span class="status">{{.D.Status}}</span></p>
<dl>
<dt>Invoice number</dt><dd>{{.D.Number}}</dd>
<dt>Issued</dt><dd><time datetime="{{.D.IssuedAt.Format "2006-01-02T15:04:05Z07:00"}}">{{date .D.IssuedAt}}</time></dd>
{{- if not .D.PaidAt.IsZero}}
<dt>Paid</dt><dd><time datetime="{{.D.PaidAt.Format "2006-01-02T15:04:05Z07:00"}}">{{date .D.PaidAt}}</time></dd>
{{- end}}
<dt>Payment</dt><dd>{{.D.PaymentID}}{{if and .D.PaidBy (ne .D.PaidBy .D.PaymentID)}} (paid by {{.D.PaidBy}}){{end}}</dd>
</dl>
</header>
<div class="parties">
{{- with .D.Issuer}}{{if or .Name .Email .TaxID .Address}}
<section aria-labelledby="from">
<h2 id="from">From</h2>
<address>
{{- with .Name}}<strong>{{.}}</strong><br>{{end}}
{{- range lines .Address}}{{.}}<br>{{end}}
{{- with .Email}}{{.}}<br>{{end}}
{{- with .TaxID}}Tax ID: {{.}}{{end}}
</address>
</section>
{{- end}}{{end}}
<section aria-labelledby="billto">
<h2 id="billto">Bill to</h2>
<address>
{{- with .D.BillTo.Name}}<strong>{{.}}</strong><br>{{end}}
{{- range lines .D.BillTo.Address}}{{.}}<br>{{end}}
{{- with .D.BillTo.Email}}{{.}}<br>{{end}}
Customer {{.D.BillTo.CustomerID}}
</address>
</section>
</div>
<h2>Items</h2>
<table>
<caption>Line items, amounts in {{.D.Currency}}</caption>
<thead><tr><th scope="col">Description</th><th scope="col" class="num">Quantity</th><th scope="col" class="num">Unit price</th><th scope="col" class="num">Amount</th></tr></thead>
<tbody>
{{- range .D.Lines}}
<tr><td>{{.Description}}</td><td class="num">{{.Quantity}}</td><td class="num">{{amount .UnitPrice $.D.Currency}}</td><td class="num">{{amount .Amount $.D.Currency}}</td></tr>
{{- end}}
</tbody>
</table>
<table>
<caption>Totals</caption>
<tbody>
{{- range .Totals}}
<tr><th scope="row">{{.Label}}</th><td class="num">{{if .Strong}}<strong>{{.Value}}</strong>{{else}}{{.Value}}{{end}}</td></tr>
{{- end}}
</tbody>
</table>
{{- if .D.Refunds}}
<h2>Refunds</h2>
<table>
<caption>Refunds of this payment</caption>
<thead><tr><th scope="col">Refund</th><th scope="col">Date</th><th scope="col">To</th><th scope="col">Status</th><th scope="col" class="num">Amount</th></tr></thead>
<tbody>
{{- range .D.Refunds}}
<tr><td>{{.ID}}{{with .Reason}} ({{.}}){{end}}</td><td>{{date .CreatedAt}}</td><td>{{.Destination}}</td><td>{{.Status}}</td><td class="num">{{amount (neg .Amount) $.D.Currency}}</td></tr>
{{- end}}
</tbody>
</table>
{{- end}}
</main>
</body>
</html>
`))

// HTML writes the document as a standalone, accessible HTML page (every
// value escaped).
func (d Document) HTML(w io.Writer) error {
	return htmlTmpl.Execute(w, struct {
		D      Document
		Totals []TotalRow
	}{d, d.Totals()})
}

// PDF writes the document as a PDF (A4, core Helvetica font). Text is
// converted to the font's code page (Windows-1252): characters outside it
// print as "?"; the HTML rendering shows every character.
func (d Document) PDF(w io.Writer) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle(d.Title()+" "+d.Number, true)
	pdf.SetCreator("coffer", false)
	pdf.SetCreationDate(d.IssuedAt)
	pdf.SetModificationDate(d.IssuedAt)
	pdf.SetMargins(18, 18, 18)
	pdf.SetAutoPageBreak(true, 18)
	pdf.AddPage()
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	txt := func(s string) string { return tr(s) }
	cell := func(wd, ht float64, s, border string, ln int, align string) {
		pdf.CellFormat(wd, ht, txt(s), border, ln, align, false, 0, "")
	}

	pdf.SetFont("Helvetica", "B", 18)
	cell(0, 10, d.Title()+" "+d.Number, "", 1, "L")
	pdf.SetFont("Helvetica", "", 10)
	cell(0, 5, "Status: "+string(d.Status), "", 1, "L")
	cell(0, 5, "Issued: "+d.IssuedAt.Format("2006-01-02"), "", 1, "L")
	if !d.PaidAt.IsZero() {
		cell(0, 5, "Paid: "+d.PaidAt.Format("2006-01-02"), "", 1, "L")
	}
	cell(0, 5, "Payment: "+d.PaymentID, "", 1, "L")
	pdf.Ln(4)

	// The parties, side by side.
	from := []string{d.Issuer.Name}
	from = append(from, AddressLines(d.Issuer.Address)...)
	from = append(from, d.Issuer.Email)
	if d.Issuer.TaxID != "" {
		from = append(from, "Tax ID: "+d.Issuer.TaxID)
	}
	to := []string{d.BillTo.Name}
	to = append(to, AddressLines(d.BillTo.Address)...)
	to = append(to, d.BillTo.Email, "Customer "+d.BillTo.CustomerID)
	from, to = nonEmpty(from), nonEmpty(to)
	pdf.SetFont("Helvetica", "B", 11)
	cell(87, 6, "From", "", 0, "L")
	cell(87, 6, "Bill to", "", 1, "L")
	pdf.SetFont("Helvetica", "", 10)
	for i := 0; i < max(len(from), len(to)); i++ {
		l, r := "", ""
		if i < len(from) {
			l = from[i]
		}
		if i < len(to) {
			r = to[i]
		}
		cell(87, 5, clip(l), "", 0, "L")
		cell(87, 5, clip(r), "", 1, "L")
	}
	pdf.Ln(5)

	// Line items.
	pdf.SetFont("Helvetica", "B", 10)
	cell(88, 7, "Description", "B", 0, "L")
	cell(20, 7, "Qty", "B", 0, "R")
	cell(33, 7, "Unit price", "B", 0, "R")
	cell(33, 7, "Amount", "B", 1, "R")
	pdf.SetFont("Helvetica", "", 10)
	for _, l := range d.Lines {
		cell(88, 7, clip(l.Description), "B", 0, "L")
		cell(20, 7, fmt.Sprint(l.Quantity), "B", 0, "R")
		cell(33, 7, Amount(l.UnitPrice, d.Currency), "B", 0, "R")
		cell(33, 7, Amount(l.Amount, d.Currency), "B", 1, "R")
	}
	pdf.Ln(3)
	for _, r := range d.Totals() {
		style := ""
		if r.Strong {
			style = "B"
		}
		pdf.SetFont("Helvetica", style, 10)
		cell(141, 6, r.Label, "", 0, "R")
		cell(33, 6, r.Value, "", 1, "R")
	}
	if len(d.Refunds) > 0 {
		pdf.Ln(4)
		pdf.SetFont("Helvetica", "B", 11)
		cell(0, 7, "Refunds", "", 1, "L")
		pdf.SetFont("Helvetica", "", 10)
		for _, r := range d.Refunds {
			cell(88, 6, clip(r.ID), "B", 0, "L")
			cell(20, 6, r.CreatedAt.Format("2006-01-02"), "B", 0, "L")
			cell(33, 6, string(r.Destination)+" "+string(r.Status), "B", 0, "R")
			cell(33, 6, Amount(-r.Amount, d.Currency), "B", 1, "R")
		}
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return fmt.Errorf("invoice: pdf: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func nonEmpty(in []string) []string {
	out := in[:0]
	for _, s := range in {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

// clip shortens a value for a fixed-width PDF cell.
func clip(s string) string {
	const n = 60
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
