// Package httpapi serves coffer's HTTP API: Dodo Payments' REST API, field
// for field, so Dodo's official SDKs (TypeScript, Python, Go, ...) drive a
// self-hosted coffer unchanged, plus coffer's extensions (cursors, holds,
// retry attempts, overdue charges, spending reports, events, API keys).
//
// New returns an http.Handler over a *coffer.Engine. It uses only the
// Engine's public operations (no second business logic) and the standard
// library's ServeMux patterns; mount it at the root or under a prefix with
// http.StripPrefix. `coffer serve` mounts it at the root.
//
// # Wire conventions
//
//   - Authentication: Authorization: Bearer <secret key>; 401 without or
//     with a wrong key, 403 when a key restricted to one customer reaches
//     another customer or an operator-only route.
//   - Errors: a JSON body {"code", "message", "param"} (ErrorBody), code in
//     Dodo's UPPER_SNAKE style, and the header x-should-retry telling the
//     SDK whether to resend.
//   - Lists: Dodo's zero-based page_number and page_size with {"items"};
//     past the last page, {"items": []}. See Page.
//   - Amounts are integers in minor units; times are RFC 3339 in UTC.
package httpapi
