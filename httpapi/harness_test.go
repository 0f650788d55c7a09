package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/memory"
)

// t0 is the test clock's start.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Test secrets: opKey is unrestricted; a key "sk_test_for_<customer id>"
// is restricted to that customer.
const opKey = "sk_test_operator"

// testEnv is a Handler over a memory engine with the test processor.
type testEnv struct {
	t     *testing.T
	ctx   context.Context
	eng   *coffer.Engine
	clock *clock.Test
	proc  *processor.Test
	h     *Handler
	srv   *httptest.Server
}

func testAuth(_ context.Context, secret string) (Principal, error) {
	if secret == opKey {
		return Principal{KeyID: "key_operator"}, nil
	}
	if c, ok := strings.CutPrefix(secret, "sk_test_for_"); ok && c != "" {
		return Principal{KeyID: "key_for_" + c, CustomerID: c}, nil
	}
	return Principal{}, errors.New("unknown key")
}

func newTestEnv(t *testing.T, opts ...Option) *testEnv {
	t.Helper()
	return newTestEnvWith(t, nil, opts...)
}

// newTestEnvWith is newTestEnv with more engine options.
func newTestEnvWith(t *testing.T, engOpts []coffer.Option, opts ...Option) *testEnv {
	t.Helper()
	clk := clock.NewTest(t0)
	proc := processor.NewTest(clk)
	eng, err := coffer.New(memory.New(), append([]coffer.Option{coffer.WithClock(clk), coffer.WithProcessor(proc),
		coffer.WithCurrencies("USD", "INR", "EUR", "JPY")}, engOpts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { eng.Close() })
	h, err := New(eng, append([]Option{WithAuthenticator(testAuth)}, opts...)...)
	require.NoError(t, err)
	// Every answer of every test is checked against the OpenAPI document
	// (openapi_test.go); a mismatch fails the test.
	srv := httptest.NewServer(validateResponses(validatorFor(t, h), t.Errorf, h))
	t.Cleanup(srv.Close)
	return &testEnv{t: t, ctx: context.Background(), eng: eng, clock: clk, proc: proc, h: h, srv: srv}
}

// resp is one answer.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map (objects) or fails.
func (r resp) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// Decode decodes the body into v.
func (r resp) Decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

// Code is the error code of an error answer.
func (r resp) Code(t *testing.T) string {
	t.Helper()
	var e ErrorBody
	r.Decode(t, &e)
	return e.Code
}

// do sends a request with the operator key. body is JSON-encoded unless it
// is a string or []byte (sent as is).
func (e *testEnv) do(method, path string, body any) resp {
	return e.doKey(opKey, method, path, body, nil)
}

func (e *testEnv) doKey(key, method, path string, body any, hdr http.Header) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// mustOK requires a 200 and returns the response.
func mustOK(t *testing.T, r resp) resp {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	return r
}

// newCustomer creates a customer over the API and returns its id.
func (e *testEnv) newCustomer(name, email string) string {
	e.t.Helper()
	r := mustOK(e.t, e.do("POST", "/customers", map[string]any{"name": name, "email": email}))
	return r.JSON(e.t)["customer_id"].(string)
}
