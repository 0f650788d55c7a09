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
