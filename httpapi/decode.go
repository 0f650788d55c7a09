package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// decode reads the JSON body of c into v. An empty body decodes as {}.
// Unknown fields are ignored (Dodo's newer SDKs may send fields coffer does
// not know; they change nothing). Malformed JSON is a 400, a value of the
// wrong type a 422 naming the field, an oversize body a 413.
func (c *call) decode(v any) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// body reads the whole (bounded) body.
func (c *call) body() ([]byte, error) {
	if c.r.Body == nil {
		return nil, nil
	}
	var b []byte
	var err error
	if n := c.r.ContentLength; n >= 0 && n <= c.h.maxBody {
		// The server stops the body at its Content-Length: read it into a
		// buffer of that size, without ReadAll's growing.
		b = make([]byte, n)
		_, err = io.ReadFull(c.r.Body, b)
	} else {
		b, err = io.ReadAll(c.r.Body)
	}
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: "REQUEST_TOO_LARGE",
				message: fmt.Sprintf("request body larger than %d bytes", mb.Limit)}
		}
		return nil, &apiError{status: http.StatusBadRequest, code: "MALFORMED_REQUEST", message: "could not read the request body"}
	}
	return b, nil
}

func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if !utf8.Valid(body) {
		return &apiError{status: http.StatusBadRequest, code: "MALFORMED_JSON", message: "request body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &apiError{status: http.StatusBadRequest, code: "MALFORMED_JSON", message: "unexpected data after the JSON body"}
	}
	return nil
}

// jsonError turns a decoding failure into its answer.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			return &apiError{status: http.StatusBadRequest, code: "MALFORMED_JSON", message: "request body must be a JSON object"}
		}
		return &apiError{status: http.StatusUnprocessableEntity, code: "INVALID_TYPE", param: field,
			message: fmt.Sprintf("%s: expected %s, got %s", field, typeName(te.Type.Kind().String()), te.Value)}
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		return invalidParam(fe.field, fe.msg)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &apiError{status: http.StatusBadRequest, code: "MALFORMED_JSON", message: "request body is not valid JSON"}
	}
	return &apiError{status: http.StatusBadRequest, code: "MALFORMED_JSON", message: boundText(err.Error(), 200)}
}

func typeName(kind string) string {
	switch kind {
	case "int", "int64", "int32", "uint8", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return kind
}

// fieldError is returned by the UnmarshalJSON of the wire types below.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// Metadata is Dodo's metadata: string keys with string, number or boolean
// values. coffer keeps values as strings: numbers and booleans come back as
// their JSON text ("3", "true").
type Metadata map[string]string

// UnmarshalJSON accepts string, number and boolean values.
func (m *Metadata) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*m = nil
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return &fieldError{"metadata", "expected an object of string, number or boolean values"}
	}
	out := make(Metadata, len(raw))
	for k, v := range raw {
		var s string
		switch {
		case len(v) > 0 && v[0] == '"':
			if err := json.Unmarshal(v, &s); err != nil {
				return &fieldError{"metadata", "bad string value"}
			}
		case string(v) == "true" || string(v) == "false":
			s = string(v)
		case len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9'):
			s = string(v)
		default:
			return &fieldError{"metadata", fmt.Sprintf("value of %q must be a string, number or boolean", boundText(k, 40))}
		}
		out[k] = s
	}
	*m = out
	return nil
}

// Int64 is a JSON integer that must be a whole number within int64 (a
// fraction or an exponent is refused, not truncated).
type Int64 struct {
	V   int64
	Set bool
}

// UnmarshalJSON parses a whole number.
func (n *Int64) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Int64{}
		return nil
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "a non-integer " + boundText(string(b), 30), Type: int64Type}
	}
	*n = Int64{V: v, Set: true}
	return nil
}

// MarshalJSON writes the number, or null when not set.
func (n Int64) MarshalJSON() ([]byte, error) {
	if !n.Set {
		return []byte("null"), nil
	}
	return strconv.AppendInt(nil, n.V, 10), nil
}

var int64Type = reflect.TypeFor[int64]()

// query reads the URL query, refusing repeated or malformed parameters.
type query struct {
	v url.Values
}

func (c *call) query() (query, error) {
	v, err := url.ParseQuery(c.r.URL.RawQuery)
	if err != nil {
		return query{}, &apiError{status: http.StatusBadRequest, code: "MALFORMED_QUERY", message: "malformed query string"}
	}
	for k, vs := range v {
		if len(vs) > 1 {
			return query{}, invalidParam(k, k+" given more than once")
		}
		if !utf8.ValidString(vs[0]) || len(vs[0]) > 1024 {
			return query{}, invalidParam(k, k+" must be valid UTF-8 of at most 1024 bytes")
		}
	}
	return query{v: v}, nil
}

// str returns a parameter ("" when absent).
func (q query) str(name string) string { return q.v.Get(name) }

// has reports whether a parameter was given (even empty).
func (q query) has(name string) bool { _, ok := q.v[name]; return ok }

// int parses an integer parameter within [min, max]; absent is def.
func (q query) int(name string, def, min, max int) (int, error) {
	s := q.v.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, invalidParam(name, fmt.Sprintf("%s must be an integer from %d to %d", name, min, max))
	}
	return n, nil
}

// boolean parses true/false; absent is nil.
func (q query) boolean(name string) (*bool, error) {
	s := q.v.Get(name)
	if s == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, invalidParam(name, name+" must be true or false")
	}
	return &b, nil
}

// time parses an ISO-8601 date-time (RFC 3339) or a date (midnight UTC).
func (q query) time(name string) (time.Time, error) {
	s := q.v.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, invalidParam(name, name+" must be an ISO-8601 date-time such as 2026-01-02T15:04:05Z")
}

// enum checks a parameter against allowed values; absent is "".
func (q query) enum(name string, allowed ...string) (string, error) {
	s := q.v.Get(name)
	if s == "" {
		return "", nil
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", invalidParam(name, fmt.Sprintf("%s must be one of %s", name, strings.Join(allowed, ", ")))
}

// pathID returns the path parameter name, checked like every id.
func (c *call) pathID(name string) (string, error) {
	id := c.r.PathValue(name)
	if id == "" || len(id) > 255 || !utf8.ValidString(id) || strings.ContainsAny(id, "\x00\r\n") {
		return "", invalidParam(name, name+" is not a valid id")
	}
	return id, nil
}

// listQuery reads a list request's query and its page parameters.
func (c *call) listQuery() (query, pageReq, error) {
	q, err := c.query()
	if err != nil {
		return query{}, pageReq{}, err
	}
	pr, err := c.pageParams(q)
	return q, pr, err
}

// operatorPathID is pathID on an operator-only route: a restricted key is
// refused (403) before the id is read.
func (c *call) operatorPathID(name string) (string, error) {
	if err := c.operatorOnly(); err != nil {
		return "", err
	}
	return c.pathID(name)
}
