package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openAPIValidator checks answers against a Handler's OpenAPI document
// with kin-openapi.
type openAPIValidator struct {
	doc    *openapi3.T
	errors *openapi3.Schema // ErrorBody
}

// validators caches one validator per document (the tests' Handlers share
// one document).
var validators sync.Map // string(document) -> *openAPIValidator

// loadOpenAPI loads and validates a document with kin-openapi.
func loadOpenAPI(b []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	d, err := loader.LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := d.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return d, nil
}

func validatorFor(tb testing.TB, h *Handler) *openAPIValidator {
	tb.Helper()
	b, err := buildOpenAPI(h.docs)
	require.NoError(tb, err)
	if v, ok := validators.Load(string(b)); ok {
		return v.(*openAPIValidator)
	}
	v, err := newValidator(b)
	require.NoError(tb, err)
	validators.Store(string(b), v)
	return v
}

func newValidator(b []byte) (*openAPIValidator, error) {
	d, err := loadOpenAPI(b)
	if err != nil {
		return nil, err
	}
	es := d.Components.Schemas["ErrorBody"]
	if es == nil || es.Value == nil {
		return nil, errors.New("no ErrorBody schema")
	}
	return &openAPIValidator{doc: d, errors: es.Value}, nil
}

// check validates one answer to req, served by the ServeMux pattern
// (req.Pattern once the mux has served it): status, headers, content type
// and body against the pattern's operation. The mux's own answers are the
// JSON 404 of the fallback route ("/") and its redirects of unclean paths.
// The operation is found by the pattern the mux matched, not by routing
// the request again: kin-openapi's routers and the ServeMux differ on
// escaped slashes, trailing slashes and unclean paths.
func (v *openAPIValidator) check(req *http.Request, pattern string, status int, hdr http.Header, body []byte) error {
	if muxRedirect(status, hdr) {
		return nil // the ServeMux's redirect of an unclean path (//, /./, /..)
	}
	if pattern == "" {
		// The Handler's own JSON 404 of an unclean path, before the mux.
		if status == http.StatusNotFound {
			return v.checkFallback(status, hdr, body)
		}
		return fmt.Errorf("not served by a ServeMux pattern")
	}
	if pattern == "/" {
		return v.checkFallback(status, hdr, body)
	}
	methods, path, _, err := parsePattern(pattern)
	if err != nil {
		return err
	}
	method := strings.ToUpper(methods[0])
	if len(methods) > 1 {
		method = req.Method
	}
	if req.Method == http.MethodHead {
		return nil // a GET route's HEAD: no body to check
	}
	item := v.doc.Paths.Value(path)
	if item == nil || item.GetOperation(method) == nil {
		return fmt.Errorf("route %q is not in the OpenAPI document", pattern)
	}
	op := item.GetOperation(method)
	route := &routers.Route{Spec: v.doc, Path: path, PathItem: item, Method: method, Operation: op}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
		Status:                 status,
		Header:                 hdr,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err
	}
	// kin-openapi does not check that an answer documented without content
	// has none.
	if r := op.Responses.Status(status); r != nil && r.Value != nil && len(r.Value.Content) == 0 && len(body) > 0 {
		return fmt.Errorf("status %d is documented without a body, got %d bytes", status, len(body))
	}
	return nil
}

// muxRedirect reports the ServeMux's redirect (307 since Go 1.24, 301
// before) of an unclean path: none of the Handler's own answers redirects.
func muxRedirect(status int, hdr http.Header) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return hdr.Get("Location") != ""
	}
	return false
}

func (v *openAPIValidator) checkFallback(status int, hdr http.Header, body []byte) error {
	if status == http.StatusMethodNotAllowed && hdr.Get("Allow") != "" {
		var val map[string]any
		if err := json.Unmarshal(body, &val); err != nil || val["code"] != "METHOD_NOT_ALLOWED" {
			return fmt.Errorf("405: not the JSON METHOD_NOT_ALLOWED answer: %s", body)
		}
		return nil
	}
	if status != http.StatusNotFound {
		return fmt.Errorf("no documented operation, and not the JSON 404 of an unknown route (status %d)", status)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("unknown route: content type %q", ct)
	}
	var val any
	if err := json.Unmarshal(body, &val); err != nil {
		return fmt.Errorf("unknown route: body is not JSON: %w", err)
	}
	if err := v.errors.VisitJSON(val, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("unknown route: body is not an ErrorBody: %w", err)
	}
	if m, _ := val.(map[string]any); m["code"] != "NOT_FOUND" {
		return fmt.Errorf("unknown route: code %v, want NOT_FOUND", m["code"])
	}
	return nil
}

// captureWriter passes an answer through and keeps a copy.
type captureWriter struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
}

func (w *captureWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.header = w.ResponseWriter.Header().Clone()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *captureWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer (Flush, ...).
func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// validateResponses wraps next: every answer is checked against the
// document once written, and a mismatch is reported with the method, path,
// status and the validator's message. newTestEnv reports with t.Errorf.
func validateResponses(v *openAPIValidator, report func(format string, args ...any), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &captureWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r) // the ServeMux sets r.Pattern
		if cw.status == 0 {
			cw.status, cw.header = http.StatusOK, w.Header().Clone()
		}
		if err := v.check(r, r.Pattern, cw.status, cw.header, cw.body.Bytes()); err != nil {
			report("openapi: %s %s answered %d, which the document does not allow: %v\nbody: %s",
				r.Method, r.URL.RequestURI(), cw.status, err, boundText(cw.body.String(), 2000))
		}
	})
}

func TestOpenAPIDocumentValidates(t *testing.T) {
	e := newTestEnv(t)
	b, err := buildOpenAPI(e.h.docs)
	require.NoError(t, err)
	d, err := loadOpenAPI(b)
	require.NoError(t, err)
	assert.Equal(t, "3.1.0", d.OpenAPI)
	assert.True(t, d.IsOpenAPI31OrLater())
	assert.Equal(t, "coffer", d.Info.Title)
	assert.NotEmpty(t, d.Info.Version)

	// Every registered route is an operation, with its path parameters,
	// query parameters, security and error answers.
	for _, rt := range e.h.docs {
		methods, path, params, err := parsePattern(rt.pattern)
		require.NoError(t, err)
		for _, m := range methods {
			item := d.Paths.Find(path)
			require.NotNil(t, item, rt.pattern)
			op := item.GetOperation(strings.ToUpper(m))
			require.NotNil(t, op, rt.pattern)
			assert.Equal(t, rt.doc.Summary, op.Summary, rt.pattern)
			for _, p := range params {
				pp := op.Parameters.GetByInAndName("path", p)
				require.NotNil(t, pp, "%s: path parameter %s", rt.pattern, p)
				assert.True(t, pp.Required)
			}
			for _, q := range rt.doc.Query {
				assert.NotNil(t, op.Parameters.GetByInAndName("query", q.Name), "%s: %s", rt.pattern, q.Name)
			}
			require.NotNil(t, op.Security, rt.pattern)
			if rt.doc.Public {
				assert.Empty(t, *op.Security, rt.pattern)
			} else {
				assert.Equal(t, openapi3.SecurityRequirements{{"bearer": []string{}}}, *op.Security, rt.pattern)
			}
			assert.Equal(t, rt.doc.Extension, op.Extensions["x-coffer-extension"] == true, rt.pattern)
			assert.Equal(t, rt.doc.Body != nil, op.RequestBody != nil, rt.pattern)
			statuses := []string{"200", "400", "404", "409", "413", "422", "5XX"}
			if !rt.doc.Public {
				statuses = append(statuses, "401", "403")
			}
			for _, s := range statuses {
				r := op.Responses.Value(s)
				require.NotNil(t, r, "%s: %s", rt.pattern, s)
				if s == "200" {
					assert.Equal(t, resultType(rt.doc.Result) != nil, len(r.Value.Content) > 0, rt.pattern)
					continue
				}
				assert.Equal(t, "#/components/schemas/ErrorBody", r.Value.Content.Get("application/json").Schema.Ref, "%s: %s", rt.pattern, s)
			}
		}
	}
	assert.Equal(t, "bearer", d.Components.SecuritySchemes["bearer"].Value.Scheme)

	// Generic instances have their own components.
	pc, pl := d.Components.Schemas["Page_Customer"], d.Components.Schemas["Page_LedgerEntry"]
	require.NotNil(t, pc)
	require.NotNil(t, pl)
	assert.Equal(t, "#/components/schemas/Customer", pc.Value.Properties["items"].Value.Items.Ref)
	assert.Equal(t, "#/components/schemas/LedgerEntry", pl.Value.Properties["items"].Value.Items.Ref)
	// A pointer is a 3.1 type array with null; omitempty is optional.
	cu := d.Components.Schemas["Customer"].Value
	assert.Equal(t, []string{"string", "null"}, cu.Properties["phone_number"].Value.Type.Slice())
	assert.Contains(t, cu.Required, "phone_number")
	assert.NotContains(t, cu.Required, "did")
	assert.Equal(t, "date-time", cu.Properties["created_at"].Value.Format)
	assert.Equal(t, "string", cu.Properties["metadata"].Value.AdditionalProperties.Schema.Value.Type.Slice()[0])
	le := d.Components.Schemas["LedgerEntryCreate"].Value
	assert.True(t, le.Properties["amount"].Value.Type.Includes("integer"))
	assert.Empty(t, le.Required, "request schemas require nothing: the handlers name a missing field in a 422")
}

func TestOpenAPIServed(t *testing.T) {
	e := newTestEnv(t)
	r := e.doKey("", "GET", "/openapi.json", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	want, err := buildOpenAPI(e.h.docs)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(r.Body))
	// Generated once: the Handler serves the same bytes each time.
	assert.Equal(t, r.Body, e.doKey(opKey, "GET", "/openapi.json", nil, nil).Body)
}

// Types for the reflection test.
type (
	oaInner struct {
		N int `json:"n"`
	}
	oaBase struct {
		ID   string `json:"id"`
		Note string `json:"note,omitempty"`
	}
	oaNode struct {
		Next *oaNode `json:"next"`
	}
	oaGeneric[T any] struct {
		V T `json:"v"`
	}
	oaAll struct {
		oaBase
		*oaInner
		Skip      string              `json:"-"`
		hidden    string              //nolint:unused
		Plain     string              // no tag: the Go name
		Opt       string              `json:"opt,omitempty"`
		Zero      time.Time           `json:"zero,omitzero"`
		When      time.Time           `json:"when,omitempty"` // omitempty never omits a struct
		MaybeWhen *time.Time          `json:"maybe_when"`
		Amount    Int64               `json:"amount"`
		Meta      Metadata            `json:"meta"`
		Counts    map[string]int64    `json:"counts"`
		Tags      []string            `json:"tags"`
		Raw       []byte              `json:"raw"`
		Quoted    int64               `json:"quoted,string"`
		Any       any                 `json:"any"`
		Inner     oaInner             `json:"inner"`
		InnerPtr  *oaInner            `json:"inner_ptr,omitempty"`
		Node      oaNode              `json:"node"`
		G1        oaGeneric[oaInner]  `json:"g1"`
		G2        oaGeneric[string]   `json:"g2"`
		Anon      struct{ X bool }    `json:"anon"`
		Dur       time.Duration       `json:"dur"`
		Arr       [2]uint8            `json:"arr"`
		Ptrs      []*oaInner          `json:"ptrs"`
		JSON      json.RawMessage     `json:"json"`
		Nested    map[string][]string `json:"nested"`
	}
)

func TestOpenAPISchemasFromGoTypes(t *testing.T) {
	g := newSchemaGen()
	ref, err := g.schema(reflect.TypeFor[oaAll](), false)
	require.NoError(t, err)
	assert.Equal(t, "#/components/schemas/OaAll", ref["$ref"])
	s := g.comps["OaAll"].(map[string]any)
	props := s["properties"].(map[string]any)
	// The properties are the keys encoding/json writes for a value with
	// every field set; the required ones, those it writes for the zero
	// value.
	full := oaAll{oaBase: oaBase{ID: "a", Note: "b"}, oaInner: &oaInner{N: 1}, Plain: "c", Opt: "d", Zero: t0, When: t0,
		MaybeWhen: &t0, Amount: Int64{V: 1, Set: true}, Meta: Metadata{"k": "v"}, Counts: map[string]int64{"a": 1},
		Tags: []string{"x"}, Raw: []byte("r"), Quoted: 5, Any: 1, InnerPtr: &oaInner{}, Dur: 1, Ptrs: []*oaInner{{}},
		JSON: json.RawMessage(`{}`), Nested: map[string][]string{"a": {"b"}}}
	keysOf := func(v any) []string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		out := []string{}
		for k := range m {
			out = append(out, k)
		}
		return out
	}
	propKeys := []string{}
	for k := range props {
		propKeys = append(propKeys, k)
	}
	assert.ElementsMatch(t, keysOf(full), propKeys)
	assert.ElementsMatch(t, keysOf(oaAll{}), s["required"],
		"omitempty, omitzero and the fields of a nil embedded pointer are optional")
	assert.Contains(t, s["required"], "when", "omitempty never omits a struct")
	assert.NotContains(t, propKeys, "Skip")
	assert.NotContains(t, propKeys, "hidden")
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	assert.JSONEq(t, `{"type":["string","null"],"format":"date-time"}`, js(props["maybe_when"]))
	assert.JSONEq(t, `{"type":["integer","null"],"format":"int64"}`, js(props["amount"]))
	assert.JSONEq(t, `{"type":"object","additionalProperties":{"type":"string"}}`, js(props["meta"]))
	assert.JSONEq(t, `{"type":"object","additionalProperties":{"type":"integer","format":"int64"}}`, js(props["counts"]))
	assert.JSONEq(t, `{"type":"string","contentEncoding":"base64"}`, js(props["raw"]))
	assert.JSONEq(t, `{"type":"string"}`, js(props["quoted"]))
	assert.JSONEq(t, `{}`, js(props["any"]))
	assert.JSONEq(t, `{"anyOf":[{"$ref":"#/components/schemas/OaInner"},{"type":"null"}]}`, js(props["inner_ptr"]))
	assert.JSONEq(t, `{"type":"object","properties":{"X":{"type":"boolean"}},"required":["X"]}`, js(props["anon"]))
	assert.JSONEq(t, `{"type":"array","items":{"type":"integer","minimum":0},"minItems":2,"maxItems":2}`, js(props["arr"]))
	// Generic instances are distinct components; a recursive type refers
	// to itself.
	assert.Equal(t, "#/components/schemas/OaGeneric_OaInner", props["g1"].(map[string]any)["$ref"])
	assert.Equal(t, "#/components/schemas/OaGeneric_String", props["g2"].(map[string]any)["$ref"])
	assert.JSONEq(t, `{"type":"object","properties":{"next":{"anyOf":[{"$ref":"#/components/schemas/OaNode"},{"type":"null"}]}},"required":["next"]}`,
		js(g.comps["OaNode"]))

	// Request schemas: nothing required, Metadata takes numbers and
	// booleans, a type with the same schema both ways is one component.
	in, err := g.schema(reflect.TypeFor[oaAll](), true)
	require.NoError(t, err)
	assert.Equal(t, "#/components/schemas/OaAllInput", in["$ref"])
	sin := g.comps["OaAllInput"].(map[string]any)
	assert.Nil(t, sin["required"])
	assert.JSONEq(t, `{"type":["object","null"],"additionalProperties":{"type":["string","number","boolean"]}}`,
		js(sin["properties"].(map[string]any)["meta"]))
	_, err = g.schema(reflect.TypeFor[customerOnlyOptional](), false)
	require.NoError(t, err)
	_, err = g.schema(reflect.TypeFor[customerOnlyOptional](), true)
	require.NoError(t, err)
	assert.Contains(t, g.comps, "CustomerOnlyOptional")
	assert.NotContains(t, g.comps, "CustomerOnlyOptionalInput")

	// Every example value validates against its schema, as kin-openapi
	// sees the whole document.
	_, err = g.schema(reflect.TypeFor[chan int](), false)
	assert.Error(t, err)
}

type customerOnlyOptional struct {
	A string `json:"a,omitempty"`
}

func TestOpenAPIComponentNamesDoNotCollide(t *testing.T) {
	type Customer struct {
		Other bool `json:"other"`
	}
	g := newSchemaGen()
	a, err := g.schema(reflect.TypeFor[Customer](), false) // this test's Customer, first
	require.NoError(t, err)
	b, err := g.schema(reflect.TypeFor[Page[Customer]](), false)
	require.NoError(t, err)
	c, err := g.schema(reflect.TypeFor[Page[CustomerWallet]](), false)
	require.NoError(t, err)
	assert.NotEqual(t, a["$ref"], b["$ref"])
	assert.NotEqual(t, b["$ref"], c["$ref"])
	d, err := g.schema(reflect.TypeFor[Page[Customer]](), false)
	require.NoError(t, err)
	assert.Equal(t, b, d, "one component per type")
	for name := range g.comps {
		assert.Regexp(t, `^[A-Za-z0-9._-]+$`, name)
	}
}

func TestOpenAPIPatterns(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		methods []string
		path    string
		params  []string
	}{
		{"GET /customers", []string{"get"}, "/customers", nil},
		{"POST /customers/{customer_id}/wallets/ledger-entries", []string{"post"}, "/customers/{customer_id}/wallets/ledger-entries", []string{"customer_id"}},
		{"GET /files/{path...}", []string{"get"}, "/files/{path}", []string{"path"}},
		{"GET /exact/{$}", []string{"get"}, "/exact/", nil},
		{"GET example.com/x/{id}", []string{"get"}, "/x/{id}", []string{"id"}},
		{"/any", []string{"get", "post", "put", "patch", "delete"}, "/any", nil},
	} {
		m, p, ps, err := parsePattern(tc.pattern)
		require.NoError(t, err, tc.pattern)
		assert.Equal(t, tc.methods, m, tc.pattern)
		assert.Equal(t, tc.path, p, tc.pattern)
		assert.Equal(t, tc.params, ps, tc.pattern)
	}
}

// The validator that checks every test's answers can fail: wrong answers
// sent through the same middleware are reported.
func TestResponseValidatorRejectsWrongAnswers(t *testing.T) {
	e := newTestEnv(t)
	v := validatorFor(t, e.h)
	cid := e.newCustomer("Ada", "ada@example.com")
	good := mustOK(t, e.do("GET", "/customers/"+cid, nil)).Body

	// A fake answer is served by a ServeMux with the real route's pattern.
	answer := func(status int, body string, hdr map[string]string) func(pattern string) http.Handler {
		return func(pattern string) http.Handler {
			mux := http.NewServeMux()
			mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range hdr {
					w.Header().Set(k, v)
				}
				w.WriteHeader(status)
				_, _ = io.WriteString(w, body)
			})
			return mux
		}
	}
	json := map[string]string{"Content-Type": "application/json", "X-Request-Id": "req_1"}
	errHdr := map[string]string{"Content-Type": "application/json", "X-Request-Id": "req_1", "X-Should-Retry": "false"}
	wrongType := strings.Replace(string(good), `"name":"Ada"`, `"name":5`, 1)
	require.NotEqual(t, string(good), wrongType)
	missing := strings.Replace(string(good), `"created_at"`, `"created"`, 1)
	for _, tc := range []struct {
		name, method, path string
		h                  func(pattern string) http.Handler
		want               string // in the report; "" = accepted
	}{
		{"the real answer", "GET", "/customers/" + cid, answer(200, string(good), json), ""},
		{"a field of the wrong type", "GET", "/customers/" + cid, answer(200, wrongType, json), "name"},
		{"a required field missing", "GET", "/customers/" + cid, answer(200, missing, json), "created_at"},
		{"not JSON", "GET", "/customers/" + cid, answer(200, "<html>", json), "decode"},
		{"wrong content type", "GET", "/customers/" + cid, answer(200, string(good), map[string]string{"Content-Type": "text/plain", "X-Request-Id": "r"}), "text/plain"},
		{"no request id", "GET", "/customers/" + cid, answer(200, string(good), map[string]string{"Content-Type": "application/json"}), "X-Request-Id"},
		{"an undocumented status", "GET", "/customers/" + cid, answer(418, `{"code":"TEAPOT","message":"x"}`, errHdr), "status is not supported"},
		{"an error that is not an ErrorBody", "GET", "/customers/" + cid, answer(404, `{"error":"nope"}`, errHdr), "code"},
		{"an error without x-should-retry", "GET", "/customers/" + cid, answer(404, `{"code":"X","message":"x"}`, json), "X-Should-Retry"},
		{"a list whose items are null", "GET", "/customers", answer(200, `{"items":null,"has_more":false}`, json), "items"},
		{"an unknown route that is not the JSON 404", "GET", "/nope", answer(200, `{}`, json), "not the JSON 404"},
		{"the JSON 404 of an unknown route", "GET", "/nope", answer(404, `{"code":"NOT_FOUND","message":"no route"}`, json), ""},
		{"a body where none is documented", "POST", "/void", answer(200, `{}`, json), "without a body"},
		{"no body where none is documented", "POST", "/void", answer(200, ``, map[string]string{"X-Request-Id": "r"}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := v
			if tc.path == "/void" {
				v = voidValidator(t)
			}
			var reports []string
			report := func(format string, args ...any) { reports = append(reports, fmt.Sprintf(format, args...)) }
			pattern := map[string]string{"/customers/" + cid: "GET /customers/{customer_id}", "/customers": "GET /customers",
				"/nope": "/", "/void": "POST /void"}[tc.path]
			rec := httptest.NewRecorder()
			validateResponses(v, report, tc.h(pattern)).ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if tc.want == "" {
				assert.Empty(t, reports)
				return
			}
			require.Len(t, reports, 1)
			msg, _, _ := strings.Cut(reports[0], "\nbody:")
			assert.Contains(t, msg, tc.want)
			t.Log(boundText(msg, 300))
			assert.Contains(t, reports[0], tc.method+" "+tc.path)
		})
	}
}

// voidValidator validates against a document of one route answering an
// empty body.
func voidValidator(t *testing.T) *openAPIValidator {
	b, err := buildOpenAPI([]route{{pattern: "POST /void", doc: doc{Summary: "Nothing back", Body: struct{}{}}}})
	require.NoError(t, err)
	v, err := newValidator(b)
	require.NoError(t, err)
	return v
}
