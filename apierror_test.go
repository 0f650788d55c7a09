package coffer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/wallet"
)

func TestAsErrorClassifiesEverySentinel(t *testing.T) {
	seen := map[error]bool{}
	for _, c := range errorCodes {
		require.False(t, seen[c.sentinel], "sentinel listed twice: %v", c.sentinel)
		seen[c.sentinel] = true
		wrapped := fmt.Errorf("doing something: %w", c.sentinel)
		e := AsError(wrapped)
		require.Equal(t, c.code, e.Code, c.sentinel.Error())
		require.Equal(t, c.kind, e.Kind, c.sentinel.Error())
		require.ErrorIs(t, e, c.sentinel, "the sentinel still matches")
		require.Equal(t, c.kind.HTTPStatus(), e.HTTPStatus())
		require.NotEqual(t, "internal_error", e.Code)
		require.Regexp(t, `^[a-z]+(_[a-z]+)*$`, e.Code)
	}
}

func TestAsErrorShapes(t *testing.T) {
	require.Nil(t, AsError(nil))
	require.Equal(t, "", ErrorCode(nil))

	// An *Error passes through unchanged, however deeply wrapped.
	own := &Error{Kind: KindConflict, Code: "x", Message: "m"}
	require.Same(t, own, AsError(fmt.Errorf("a: %w", fmt.Errorf("b: %w", own))))

	// Unknown causes are internal and their text stays out of the message.
	leak := errors.New("pq: relation payments does not exist at 10.0.0.7")
	e := AsError(leak)
	require.Equal(t, KindInternal, e.Kind)
	require.Equal(t, "internal_error", e.Code)
	require.NotContains(t, e.Message, "10.0.0.7")
	require.ErrorIs(t, e, leak)
	require.Equal(t, http.StatusInternalServerError, e.HTTPStatus())

	// Cancellation and deadlines are not server errors.
	require.Equal(t, StatusClientClosedRequest, AsError(fmt.Errorf("x: %w", context.Canceled)).HTTPStatus())
	require.Equal(t, http.StatusGatewayTimeout, AsError(context.DeadlineExceeded).HTTPStatus())
	require.Equal(t, http.StatusServiceUnavailable, AsError(ErrNoProcessor).HTTPStatus())

	// The field of a validation error is the param.
	fe := &customer.FieldError{Field: "email", Err: customer.ErrInvalidEmail}
	e = AsError(fmt.Errorf("create: %w", fe))
	require.Equal(t, "email", e.Param)
	require.Equal(t, "invalid_email", e.Code)

	// So is the parameter of a malformed id.
	_, err := (&Engine{}).Payment(context.Background(), "pay_\x00")
	e = AsError(err)
	require.Equal(t, "invalid_id", e.Code)
	require.Equal(t, "payment_id", e.Param)
	require.Equal(t, http.StatusUnprocessableEntity, e.HTTPStatus())

	// Messages are bounded.
	huge := fmt.Errorf("%w: %s", wallet.ErrInsufficientFunds, strings.Repeat("é", 1<<20))
	e = AsError(huge)
	require.LessOrEqual(t, len(e.Message), maxMessageLen+len("…"))
	require.True(t, strings.HasSuffix(e.Message, "…"))
}

// TestREADMEListsEveryErrorCode keeps the README's error-code table in step
// with the code table.
func TestREADMEListsEveryErrorCode(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(b)
	for _, c := range errorCodes {
		require.True(t, strings.Contains(readme, "| `"+c.code+"` |"), "README error table lacks %s", c.code)
	}
	require.True(t, strings.Contains(readme, "| `internal_error` |"))
}
