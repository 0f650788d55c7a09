// Package logattr attaches log attributes (the ids of what an error is
// about: payment_id, endpoint_id, ...) to an error, so that the line that
// finally logs it, far from where it happened, carries them.
package logattr

import (
	"errors"
	"log/slog"
)

// Error is an error with log attributes.
type Error struct {
	Err   error
	Attrs []slog.Attr
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// Wrap returns err carrying attrs; nil for a nil err.
func Wrap(err error, attrs ...slog.Attr) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err, Attrs: attrs}
}

// Attrs returns the attributes of every Error in err's tree (outermost
// first), without repeating a key.
func Attrs(err error) []slog.Attr {
	var out []slog.Attr
	seen := map[string]bool{}
	var walk func(error)
	walk = func(err error) {
		for err != nil {
			if e, ok := err.(*Error); ok {
				for _, a := range e.Attrs {
					if !seen[a.Key] {
						seen[a.Key] = true
						out = append(out, a)
					}
				}
			}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range j.Unwrap() {
					walk(e)
				}
				return
			}
			err = errors.Unwrap(err)
		}
	}
	walk(err)
	return out
}

// Split returns the errors of a top-level errors.Join (any error with
// Unwrap() []error), or err alone, so each can be logged on its own line
// with its own attributes.
func Split(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
