package otelcoffer

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

type requestIDKey struct{}

// WithRequestID returns ctx carrying a request id for log lines. id is
// called when a line is written, so a server can pass a function reading
// the X-Request-Id its API handler set on the response. HTTPMiddleware
// sets the request id itself; WithRequestID is for servers that make
// their request ids elsewhere.
func WithRequestID(ctx context.Context, id func() string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id HTTPMiddleware or WithRequestID put in
// ctx, or "".
func RequestID(ctx context.Context) string {
	switch v := ctx.Value(requestIDKey{}).(type) {
	case string:
		return v
	case func() string:
		if v != nil {
			return v()
		}
	}
	return ""
}

// LogHandler returns h adding, to each record logged with a context, the
// context's request_id (HTTPMiddleware, WithRequestID) and the trace_id and
// span_id of its recording span, unless the record already has that key.
// Wrap the handler of the logger given to coffer.WithLogger, so that the
// engine's own lines (a duplicate charge refunded, a background worker's
// error) and the processor's carry the ids of the request or trace that
// caused them:
//
//	log := slog.New(otelcoffer.LogHandler(slog.NewJSONHandler(os.Stderr, nil)))
//
// Under a WithGroup the ids go in the group, like the record's own
// attributes.
func LogHandler(h slog.Handler) slog.Handler {
	if lh, ok := h.(*logHandler); ok {
		return lh
	}
	return &logHandler{h: h}
}

type logHandler struct{ h slog.Handler }

func (l *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

func (l *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return l.h.Handle(ctx, r)
	}
	id := RequestID(ctx)
	sc := trace.SpanContextFromContext(ctx)
	if id == "" && !sc.IsValid() {
		return l.h.Handle(ctx, r)
	}
	var hasID, hasTrace, hasSpan bool
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "request_id":
			hasID = true
		case "trace_id":
			hasTrace = true
		case "span_id":
			hasSpan = true
		}
		return true
	})
	add := make([]slog.Attr, 0, 3)
	if id != "" && !hasID {
		add = append(add, slog.String("request_id", id))
	}
	if sc.IsValid() {
		if !hasTrace {
			add = append(add, slog.String("trace_id", sc.TraceID().String()))
		}
		if !hasSpan {
			add = append(add, slog.String("span_id", sc.SpanID().String()))
		}
	}
	if len(add) == 0 {
		return l.h.Handle(ctx, r)
	}
	r = r.Clone()
	r.AddAttrs(add...)
	return l.h.Handle(ctx, r)
}

func (l *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{h: l.h.WithAttrs(attrs)}
}

func (l *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{h: l.h.WithGroup(name)}
}
