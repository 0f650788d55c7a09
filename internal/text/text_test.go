package text

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		s    string
		max  int
		want error
	}{
		{"", 10, nil},
		{"héllo", 5, nil},
		{"héllo!", 5, ErrTooLong},
		{"a\x00b", 10, ErrNUL},
		{"a\xffb", 10, ErrNotUTF8},
		{strings.Repeat("x", 1000), 0, nil},
	}
	for _, c := range cases {
		if err := Check(c.s, c.max); !errors.Is(err, c.want) && !(err == nil && c.want == nil) {
			t.Errorf("Check(%q, %d) = %v, want %v", c.s, c.max, err, c.want)
		}
	}
	if err := CheckKey(strings.Repeat("é", 128), 255); !errors.Is(err, ErrTooLong) {
		t.Errorf("256-byte key accepted: %v", err)
	}
	if err := CheckKey("k\x00", 255); !errors.Is(err, ErrNUL) {
		t.Errorf("NUL key accepted: %v", err)
	}
	if err := CheckKey("order-1", 255); err != nil {
		t.Errorf("good key refused: %v", err)
	}
}

func TestQuote(t *testing.T) {
	if got := Quote("a\x00b"); got != `"a\x00b"` {
		t.Errorf("Quote short = %s", got)
	}
	long := strings.Repeat("é", 1<<19) // 1 MiB
	got := Quote(long)
	if len(got) > MaxQuoted*4+8 || !strings.HasSuffix(got, "…") {
		t.Errorf("Quote of 1 MiB is %d bytes: %.80s", len(got), got)
	}
	if want := `"` + strings.Repeat("é", MaxQuoted/2) + `"…`; got != want {
		t.Errorf("Quote cut = %s, want %s", got, want)
	}
	// A cut inside a character backs off to its start.
	if got := Quote("x" + strings.Repeat("é", 40)); got != `"x`+strings.Repeat("é", 31)+`"…` {
		t.Errorf("Quote mid-rune cut = %s", got)
	}
}
