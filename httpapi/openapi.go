package httpapi

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The OpenAPI document is generated from the routes' doc{...} at startup:
// paths from the ServeMux patterns, query parameters from doc.Query, and
// the request and answer schemas from the Go types of doc.Body and
// doc.Result by reflection, following encoding/json's rules (json tags,
// omitempty, embedded structs). It is OpenAPI 3.1 (JSON Schema 2020-12): a
// nullable value has a type array such as ["string", "null"].
//
// Schemas of request bodies ("input" schemas) differ from those of answers:
// an answer's field without omitempty is always present, so it is required;
// a request's fields are all optional for the decoder (absent and null are
// the same; a handler refuses a missing required field with a 422 naming
// it), so input schemas list no required fields, and Metadata values may be
// strings, numbers or booleans. A struct type used both ways has two
// components, the input one suffixed "Input".

// OpenAPIVersion is the OpenAPI version of the served document.
const OpenAPIVersion = "3.1.0"

// openAPIRoutes registers GET /openapi.json. routes() calls it after every
// other route group: the document is generated then, once, from h.docs.
func (h *Handler) openAPIRoutes() {
	d := doc{Tag: "meta", Summary: "The OpenAPI document of this API",
		Description: "OpenAPI " + OpenAPIVersion + ", generated from the routes at startup.",
		Result:      map[string]any{}, Public: true, Extension: true}
	var body json.RawMessage
	h.handle("GET /openapi.json", func(c *call) (any, error) { return body, nil }, d)
	b, err := buildOpenAPI(h.docs)
	if err != nil {
		// The docs are the package's own constants: a type that cannot be
		// described is a programming error, like a bad ServeMux pattern.
		panic("httpapi: " + err.Error())
	}
	body = b
}

// buildOpenAPI returns the OpenAPI document of routes as JSON.
func buildOpenAPI(routes []route) ([]byte, error) {
	g := newSchemaGen()
	errSchema, err := g.schema(reflect.TypeFor[ErrorBody](), false)
	if err != nil {
		return nil, err
	}
	paths := map[string]map[string]any{}
	tags := map[string]bool{}
	type pending struct {
		op   map[string]any
		body reflect.Type
		name string
	}
	var inputs []pending
	for _, rt := range routes {
		methods, path, params, err := parsePattern(rt.pattern)
		if err != nil {
			return nil, err
		}
		d := rt.doc
		op := map[string]any{
			"operationId": operationID(methods[0], path),
			"summary":     d.Summary,
		}
		if d.Description != "" {
			op["description"] = d.Description
		}
		if d.Tag != "" {
			op["tags"] = []string{d.Tag}
			tags[d.Tag] = true
		}
		if d.Extension {
			op["x-coffer-extension"] = true
		}
		if d.Public {
			op["security"] = []any{}
		} else {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
		}
		var ps []any
		for _, p := range params {
			ps = append(ps, map[string]any{"name": p, "in": "path", "required": true,
				"schema": map[string]any{"type": "string", "minLength": 1, "maxLength": 255}})
		}
		seen := map[string]bool{}
		for _, q := range d.Query {
			if seen[q.Name] || q.Name == "" {
				return nil, fmt.Errorf("openapi: %s: query parameter %q repeated or empty", rt.pattern, q.Name)
			}
			seen[q.Name] = true
			s, err := queryParamSchema(q)
			if err != nil {
				return nil, fmt.Errorf("openapi: %s: %w", rt.pattern, err)
			}
			p := map[string]any{"name": q.Name, "in": "query", "required": false, "schema": s}
			if q.Description != "" {
				p["description"] = q.Description
			}
			ps = append(ps, p)
		}
		if len(ps) > 0 {
			op["parameters"] = ps
		}
		ok := map[string]any{"description": "OK", "headers": map[string]any{"X-Request-Id": headerRef("X-Request-Id")}}
		if d.Summary != "" {
			ok["description"] = d.Summary
		}
		if ra, raw := d.Result.(rawAnswer); raw { // invoices.go: PDF, HTML
			content, err := g.rawContent(ra)
			if err != nil {
				return nil, fmt.Errorf("openapi: %s: result: %w", rt.pattern, err)
			}
			ok["content"] = content
		} else if res := resultType(d.Result); res != nil {
			s, err := g.schema(res, false)
			if err != nil {
				return nil, fmt.Errorf("openapi: %s: result: %w", rt.pattern, err)
			}
			ok["content"] = jsonContent(s)
		} else {
			ok["description"] = "OK (an empty body)"
		}
		resps := map[string]any{"200": ok}
		for _, e := range errorResponses {
			if d.Public && (e.status == "401" || e.status == "403") {
				continue
			}
			resps[e.status] = map[string]any{"$ref": "#/components/responses/" + errorResponseName(e.status)}
		}
		op["responses"] = resps
		if d.Body != nil {
			inputs = append(inputs, pending{op: op, body: reflect.TypeOf(d.Body), name: rt.pattern})
		}
		item := paths[path]
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		for i, m := range methods {
			if _, dup := item[m]; dup {
				return nil, fmt.Errorf("openapi: %s: %s %s documented twice", rt.pattern, strings.ToUpper(m), path)
			}
			if i > 0 {
				op = cloneOp(op, operationID(m, path))
			}
			item[m] = op
		}
	}
	// Request bodies last, so a type also used in answers keeps its plain
	// name for the answer's schema.
	for _, in := range inputs {
		s, err := g.schema(in.body, true)
		if err != nil {
			return nil, fmt.Errorf("openapi: %s: body: %w", in.name, err)
		}
		in.op["requestBody"] = map[string]any{"required": false,
			"description": "A JSON object; an empty body is {}.", "content": jsonContent(s)}
	}
	errResps := map[string]any{}
	for _, e := range errorResponses {
		errResps[errorResponseName(e.status)] = map[string]any{"description": e.desc,
			"headers": map[string]any{"X-Request-Id": headerRef("X-Request-Id"), "X-Should-Retry": headerRef("X-Should-Retry")},
			"content": jsonContent(errSchema)}
	}
	tagList := make([]any, 0, len(tags))
	for _, t := range slices.Sorted(mapKeys(tags)) {
		tagList = append(tagList, map[string]any{"name": t})
	}
	out := map[string]any{
		"openapi": OpenAPIVersion,
		"info": map[string]any{
			"title":   "coffer",
			"version": moduleVersion(),
			"description": "coffer's HTTP API: Dodo Payments' REST API, so Dodo's SDKs drive a self-hosted coffer, " +
				"plus coffer's extensions (operations marked x-coffer-extension).",
			"license": map[string]any{"name": "see the LICENSE file of github.com/cofferhq/coffer"},
		},
		"jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
		"paths":             paths,
		"tags":              tagList,
		"components": map[string]any{
			"schemas":   g.comps,
			"responses": errResps,
			"headers":   headers,
			"securitySchemes": map[string]any{"bearer": map[string]any{
				"type": "http", "scheme": "bearer",
				"description": "Authorization: Bearer <secret key>. A key restricted to one customer gets 403 elsewhere."}},
		},
	}
	return json.Marshal(out)
}

// errorResponses are documented on every operation (401 and 403 only where
// an API key is needed).
var errorResponses = []struct{ status, desc string }{
	{"400", "Malformed request (MALFORMED_JSON, MALFORMED_QUERY, ...) or insufficient funds (INSUFFICIENT_FUNDS)."},
	{"401", "Missing or invalid API key (INVALID_API_KEY)."},
	{"403", "The API key is restricted to another customer, or the route needs an unrestricted key (FORBIDDEN)."},
	{"404", "No such record (CUSTOMER_NOT_FOUND, ...) or no such route (NOT_FOUND)."},
	{"409", "Conflict: an idempotency key already processed or in use, or a state conflict."},
	{"413", "The request body is too large (REQUEST_TOO_LARGE)."},
	{"422", "An invalid parameter (INVALID_PARAMETER, INVALID_TYPE, ...), named in param."},
	{"499", "The client closed the request before the answer (never seen by that client)."},
	{"5XX", "A server error; x-should-retry tells whether to resend (nothing was committed)."},
}

func errorResponseName(status string) string { return "Error" + status }

// headers are the documented response headers: X-Request-Id on every
// answer of a route, X-Should-Retry on every error.
var headers = map[string]any{
	"X-Request-Id": map[string]any{"required": true,
		"description": "The request's id: the X-Request-Id sent, when valid, else a new one.",
		"schema":      map[string]any{"type": "string", "minLength": 1, "maxLength": 64}},
	"X-Should-Retry": map[string]any{"required": true,
		"description": "Whether the SDK should resend the request.",
		"schema":      map[string]any{"type": "string", "enum": []string{"true", "false"}}},
}

func headerRef(name string) map[string]any {
	return map[string]any{"$ref": "#/components/headers/" + name}
}

func jsonContent(s map[string]any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": s}}
}

func cloneOp(op map[string]any, id string) map[string]any {
	c := make(map[string]any, len(op))
	for k, v := range op {
		c[k] = v
	}
	c["operationId"] = id
	return c
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// resultType is the answer's type, or nil for an empty body.
func resultType(v any) reflect.Type {
	if v == nil {
		return nil
	}
	if _, ok := v.(empty); ok {
		return nil
	}
	return reflect.TypeOf(v)
}

// moduleVersion is coffer's module version from the build information, or
// "0.0.0-dev" in a build from a work tree.
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "0.0.0-dev"
	}
	mods := append([]*debug.Module{&bi.Main}, bi.Deps...)
	for _, m := range mods {
		if m != nil && m.Path == "github.com/cofferhq/coffer" && m.Version != "" && m.Version != "(devel)" {
			return strings.TrimPrefix(m.Version, "v")
		}
	}
	return "0.0.0-dev"
}

// parsePattern splits a ServeMux pattern ("GET /customers/{customer_id}")
// into its OpenAPI methods, path and path parameters. A pattern without a
// method serves every method; it is documented for the usual five. A host
// is dropped, {name...} is a parameter (of the rest of the path) and {$}
// an end anchor.
func parsePattern(pattern string) (methods []string, path string, params []string, err error) {
	method, rest, ok := strings.Cut(strings.TrimSpace(pattern), " ")
	if !ok {
		method, rest = "", method
	}
	rest = strings.TrimSpace(rest)
	if method == "" {
		methods = []string{"get", "post", "put", "patch", "delete"}
	} else {
		methods = []string{strings.ToLower(method)}
	}
	if i := strings.IndexByte(rest, '/'); i > 0 {
		rest = rest[i:] // a host
	}
	if !strings.HasPrefix(rest, "/") {
		return nil, "", nil, fmt.Errorf("openapi: pattern %q: no path", pattern)
	}
	segs := strings.Split(rest, "/")
	for i, s := range segs {
		if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
			continue
		}
		name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}"), "...")
		if name == "$" {
			segs[i] = ""
			continue
		}
		params = append(params, name)
		segs[i] = "{" + name + "}"
	}
	return methods, strings.Join(segs, "/"), params, nil
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9]+`)

// operationID is method_path in snake case: get_customers_customer_id.
func operationID(method, path string) string {
	return method + "_" + strings.Trim(strings.ToLower(nonIdent.ReplaceAllString(path, "_")), "_")
}

func queryParamSchema(q queryParam) (map[string]any, error) {
	var s map[string]any
	switch q.Type {
	case "string", "":
		s = map[string]any{"type": "string"}
	case "integer":
		s = map[string]any{"type": "integer"}
	case "boolean":
		s = map[string]any{"type": "boolean"}
	case "date-time":
		s = map[string]any{"type": "string", "format": "date-time"}
	default:
		return nil, fmt.Errorf("query parameter %s: unknown type %q", q.Name, q.Type)
	}
	if len(q.Enum) > 0 {
		if q.Type != "string" && q.Type != "" {
			return nil, fmt.Errorf("query parameter %s: an enum must be of strings", q.Name)
		}
		s["enum"] = q.Enum
	}
	return s, nil
}

// schemaGen makes JSON schemas of Go types; named struct types become
// components, once each.
type schemaGen struct {
	comps map[string]any
	names map[schemaKey]string
	taken map[string]schemaKey
}

type schemaKey struct {
	t  reflect.Type
	in bool
}

func newSchemaGen() *schemaGen {
	return &schemaGen{comps: map[string]any{}, names: map[schemaKey]string{}, taken: map[string]schemaKey{}}
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	durationType    = reflect.TypeFor[time.Duration]()
	wireInt64Type   = reflect.TypeFor[Int64]()
	metadataType    = reflect.TypeFor[Metadata]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	marshalerType   = reflect.TypeFor[json.Marshaler]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textMarshalType = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// schema describes t as encoded (in false) or decoded (in true) by
// encoding/json.
func (g *schemaGen) schema(t reflect.Type, in bool) (map[string]any, error) {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}, nil
	case durationType:
		return map[string]any{"type": "integer", "description": "nanoseconds"}, nil
	case wireInt64Type:
		// A whole number; null is unset (as a request's, absent).
		return map[string]any{"type": []string{"integer", "null"}, "format": "int64"}, nil
	case metadataType:
		if in {
			return map[string]any{"type": []string{"object", "null"},
				"additionalProperties": map[string]any{"type": []string{"string", "number", "boolean"}}}, nil
		}
		return map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}, nil
	case rawMessageType:
		return map[string]any{}, nil
	}
	if t.Kind() == reflect.Pointer {
		s, err := g.schema(t.Elem(), in)
		if err != nil {
			return nil, err
		}
		return nullable(s), nil
	}
	// Types with their own JSON form: free-form, or a string for text.
	custom, text := marshalerType, textMarshalType
	if in {
		custom, text = unmarshalerType, textUnmarshType
	}
	if t.Implements(custom) || reflect.PointerTo(t).Implements(custom) {
		return map[string]any{"description": "free-form JSON (" + t.String() + ")"}, nil
	}
	if t.Implements(text) || reflect.PointerTo(t).Implements(text) {
		return map[string]any{"type": "string"}, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return map[string]any{"type": "integer", "format": "int32"}, nil
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}, nil
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return map[string]any{"type": "integer", "minimum": 0}, nil
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}, nil
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Interface:
		return map[string]any{}, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !t.Elem().Implements(marshalerType) && !t.Elem().Implements(textMarshalType) {
			return map[string]any{"type": "string", "contentEncoding": "base64"}, nil
		}
		items, err := g.schema(t.Elem(), in)
		if err != nil {
			return nil, err
		}
		// A nil slice is encoded null: answers must send [] (the SDKs
		// expect arrays), so only a request may send null.
		s := map[string]any{"type": "array", "items": items}
		if in {
			s["type"] = []string{"array", "null"}
		}
		return s, nil
	case reflect.Array:
		items, err := g.schema(t.Elem(), in)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items, "minItems": t.Len(), "maxItems": t.Len()}, nil
	case reflect.Map:
		k := t.Key()
		switch {
		case k.Kind() == reflect.String, k.Implements(textMarshalType) || reflect.PointerTo(k).Implements(textUnmarshType),
			k.Kind() >= reflect.Int && k.Kind() <= reflect.Uintptr:
		default:
			return nil, fmt.Errorf("map key type %s cannot be JSON", k)
		}
		v, err := g.schema(t.Elem(), in)
		if err != nil {
			return nil, err
		}
		s := map[string]any{"type": "object", "additionalProperties": v}
		if in {
			s["type"] = []string{"object", "null"}
		}
		return s, nil
	case reflect.Struct:
		if t.Name() == "" {
			return g.structSchema(t, in)
		}
		return g.ref(t, in)
	}
	return nil, fmt.Errorf("type %s cannot be JSON", t)
}

// ref returns a $ref to t's component, making it the first time.
func (g *schemaGen) ref(t reflect.Type, in bool) (map[string]any, error) {
	key := schemaKey{t, in}
	if name, ok := g.names[key]; ok {
		return map[string]any{"$ref": "#/components/schemas/" + name}, nil
	}
	base := componentName(t)
	if in {
		if _, used := g.names[schemaKey{t, false}]; used {
			base += "Input"
		}
	}
	name := base
	for n := 2; ; n++ {
		if _, clash := g.taken[name]; !clash {
			break
		}
		if n == 2 && t.PkgPath() != "" {
			pkg := t.PkgPath()[strings.LastIndexByte(t.PkgPath(), '/')+1:]
			name = sanitizeName(pkg) + "_" + base
			if _, clash := g.taken[name]; !clash {
				break
			}
		}
		name = base + strconv.Itoa(n)
	}
	g.names[key], g.taken[name] = name, key
	g.comps[name] = map[string]any{} // a recursive type refers to it meanwhile
	s, err := g.structSchema(t, in)
	if err != nil {
		return nil, err
	}
	if outName, used := g.names[schemaKey{t, false}]; in && used && sameJSON(s, g.comps[outName]) {
		// The request's schema is the answer's: one component.
		delete(g.comps, name)
		delete(g.taken, name)
		g.names[key] = outName
		name = outName
	} else {
		g.comps[name] = s
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}, nil
}

func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// qualified matches a package-qualified identifier's qualifier in a type
// name: "github.com/cofferhq/coffer/httpapi." in Page[...httpapi.Customer].
var qualified = regexp.MustCompile(`[A-Za-z0-9_./\-]*\.`)

// componentName names a type's component: its name without package
// qualifiers, capitalized, a generic instance's type arguments joined with
// "_" (Page[Customer] is Page_Customer).
func componentName(t reflect.Type) string {
	n := qualified.ReplaceAllString(t.Name(), "")
	n = strings.NewReplacer("[]", "List", "*", "", "[", "_", ",", "_", "]", "", " ", "").Replace(n)
	parts := strings.Split(sanitizeName(n), "_")
	for i, p := range parts {
		r, size := utf8.DecodeRuneInString(p)
		parts[i] = string(unicode.ToUpper(r)) + p[size:]
	}
	return strings.Join(parts, "_")
}

var badNameChars = regexp.MustCompile(`[^A-Za-z0-9._\-]`)

func sanitizeName(s string) string { return badNameChars.ReplaceAllString(s, "_") }

// nullable lets s be null too.
func nullable(s map[string]any) map[string]any {
	if len(s) == 0 {
		return s // anything, null included
	}
	if _, ok := s["$ref"]; ok {
		return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
	}
	switch t := s["type"].(type) {
	case string:
		c := copySchema(s)
		c["type"] = []string{t, "null"}
		return c
	case []string:
		if slices.Contains(t, "null") {
			return s
		}
		c := copySchema(s)
		c["type"] = append(slices.Clone(t), "null")
		return c
	}
	// No type (a free-form value): anything goes already.
	return s
}

func copySchema(s map[string]any) map[string]any {
	c := make(map[string]any, len(s))
	for k, v := range s {
		c[k] = v
	}
	return c
}

// jsonField is a field as encoding/json sees it.
type jsonField struct {
	name   string
	typ    reflect.Type
	omit   bool // omitempty or omitzero: may be absent
	quoted bool // ,string
	// null: the field's tag says null:"true" (a Dodo field typed
	// "T[] | null" that coffer leaves null when it has nothing).
	null   bool
	tagged bool
	depth  int
	// viaPointer: promoted from an embedded pointer, absent when it is nil.
	viaPointer bool
}

// jsonFields lists t's fields by encoding/json's rules: exported fields
// and the promoted fields of untagged embedded structs, the shallowest
// (then the tagged) winning a name, ties dropped.
func jsonFields(t reflect.Type) []jsonField {
	var all []jsonField
	var walk func(t reflect.Type, depth int, viaPtr bool, seen []reflect.Type)
	walk = func(t reflect.Type, depth int, viaPtr bool, seen []reflect.Type) {
		if slices.Contains(seen, t) {
			return
		}
		seen = append(seen, t)
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if sf.Anonymous {
				ft := sf.Type
				isPtr := ft.Kind() == reflect.Pointer
				if isPtr {
					ft = ft.Elem()
				}
				if !sf.IsExported() && ft.Kind() != reflect.Struct {
					continue
				}
				if name == "" && ft.Kind() == reflect.Struct {
					walk(ft, depth+1, viaPtr || isPtr, seen)
					continue
				}
			} else if !sf.IsExported() {
				continue
			}
			f := jsonField{name: name, typ: sf.Type, tagged: name != "", depth: depth, viaPointer: viaPtr,
				null: sf.Tag.Get("null") == "true"}
			if f.name == "" {
				f.name = sf.Name
			}
			for _, o := range strings.Split(opts, ",") {
				switch o {
				case "omitempty":
					f.omit = f.omit || omitsEmpty(sf.Type)
				case "omitzero":
					f.omit = true
				case "string":
					f.quoted = quotable(sf.Type)
				}
			}
			all = append(all, f)
		}
	}
	walk(t, 0, false, nil)
	var out []jsonField
	for _, f := range all {
		if slices.ContainsFunc(out, func(o jsonField) bool { return o.name == f.name }) {
			continue
		}
		var rivals []jsonField
		for _, o := range all {
			if o.name == f.name {
				rivals = append(rivals, o)
			}
		}
		min := slices.MinFunc(rivals, func(a, b jsonField) int { return a.depth - b.depth }).depth
		var top []jsonField
		for _, o := range rivals {
			if o.depth == min {
				top = append(top, o)
			}
		}
		if len(top) > 1 {
			var tagged []jsonField
			for _, o := range top {
				if o.tagged {
					tagged = append(tagged, o)
				}
			}
			top = tagged
		}
		if len(top) == 1 {
			out = append(out, top[0])
		} else {
			// Ambiguous: encoding/json drops the name; keep it out and
			// mark it so the later duplicates are skipped too.
			out = append(out, jsonField{name: f.name, depth: -1})
		}
	}
	return slices.DeleteFunc(out, func(f jsonField) bool { return f.depth < 0 })
}

// omitsEmpty reports whether omitempty can leave a field of type t out:
// encoding/json never omits a struct.
func omitsEmpty(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		return false
	}
	return true
}

func quotable(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}

func (g *schemaGen) structSchema(t reflect.Type, in bool) (map[string]any, error) {
	props := map[string]any{}
	required := []string{}
	for _, f := range jsonFields(t) {
		var s map[string]any
		if f.quoted {
			s = map[string]any{"type": "string"}
			if f.typ.Kind() == reflect.Pointer {
				s = nullable(s)
			}
		} else {
			var err error
			if s, err = g.schema(f.typ, in); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", t, f.name, err)
			}
		}
		if f.null {
			s = nullable(s)
		}
		props[f.name] = s
		if !in && !f.omit && !f.viaPointer {
			required = append(required, f.name)
		}
	}
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s, nil
}
