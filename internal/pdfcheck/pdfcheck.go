// Package pdfcheck parses the structure of a PDF file far enough to tell a
// well-formed one, for tests: the header, the cross-reference table (every
// in-use entry must point at "N G obj"), the trailer and startxref, and the
// page content streams (inflated when Flate-encoded). It understands the
// classic (uncompressed) cross-reference tables go-pdf/fpdf writes.
package pdfcheck

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
)

// Doc is what Parse found.
type Doc struct {
	Objects int    // in-use objects in the cross-reference table
	Pages   int    // /Type /Page objects
	Text    string // the decoded content of every stream, concatenated
}

var (
	reStartXref = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)
	reXrefSub   = regexp.MustCompile(`^(\d+) (\d+)\s*$`)
	reXrefEntry = regexp.MustCompile(`^(\d{10}) (\d{5}) ([nf])\s*$`)
	rePage      = regexp.MustCompile(`/Type\s*/Page\b[^s]`)
)

// Parse checks b and returns what it found.
func Parse(b []byte) (Doc, error) {
	var d Doc
	if !bytes.HasPrefix(b, []byte("%PDF-1.")) {
		return d, errors.New("pdfcheck: no %PDF-1.x header")
	}
	m := reStartXref.FindSubmatch(b)
	if m == nil {
		return d, errors.New("pdfcheck: no startxref / %%EOF at the end")
	}
	off, _ := strconv.Atoi(string(m[1]))
	if off <= 0 || off >= len(b) || !bytes.HasPrefix(b[off:], []byte("xref")) {
		return d, fmt.Errorf("pdfcheck: startxref %d does not point at xref", off)
	}
	lines := bytes.Split(b[off:], []byte("\n"))
	i := 1
	for i < len(lines) {
		sub := reXrefSub.FindSubmatch(lines[i])
		if sub == nil {
			break
		}
		first, _ := strconv.Atoi(string(sub[1]))
		n, _ := strconv.Atoi(string(sub[2]))
		i++
		for k := 0; k < n; k++ {
			if i >= len(lines) {
				return d, errors.New("pdfcheck: truncated xref")
			}
			e := reXrefEntry.FindSubmatch(lines[i])
			if e == nil {
				return d, fmt.Errorf("pdfcheck: bad xref entry %q", lines[i])
			}
			i++
			if string(e[3]) != "n" {
				continue
			}
			at, _ := strconv.Atoi(string(e[1]))
			want := fmt.Sprintf("%d 0 obj", first+k)
			if at >= len(b) || !bytes.HasPrefix(b[at:], []byte(want)) {
				return d, fmt.Errorf("pdfcheck: xref entry of object %d points at %d, not at %q", first+k, at, want)
			}
			d.Objects++
		}
	}
	if d.Objects == 0 {
		return d, errors.New("pdfcheck: empty xref")
	}
	if i >= len(lines) || !bytes.HasPrefix(bytes.TrimSpace(lines[i]), []byte("trailer")) {
		return d, errors.New("pdfcheck: no trailer after xref")
	}
	if !bytes.Contains(b[off:], []byte("/Root")) {
		return d, errors.New("pdfcheck: trailer without /Root")
	}
	d.Pages = len(rePage.FindAll(b, -1))
	var text bytes.Buffer
	rest := b
	for {
		s := bytes.Index(rest, []byte("stream\n"))
		if s < 0 {
			break
		}
		dict := rest[:s]
		if k := bytes.LastIndex(dict, []byte("<<")); k >= 0 {
			dict = dict[k:]
		}
		body := rest[s+len("stream\n"):]
		e := bytes.Index(body, []byte("endstream"))
		if e < 0 {
			return d, errors.New("pdfcheck: stream without endstream")
		}
		data := bytes.TrimRight(body[:e], "\r\n")
		if bytes.Contains(dict, []byte("/FlateDecode")) {
			r, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				return d, fmt.Errorf("pdfcheck: stream: %w", err)
			}
			out, err := io.ReadAll(r)
			if err != nil {
				return d, fmt.Errorf("pdfcheck: stream: %w", err)
			}
			data = out
		}
		text.Write(data)
		text.WriteByte('\n')
		rest = body[e+len("endstream"):]
	}
	d.Text = text.String()
	return d, nil
}
