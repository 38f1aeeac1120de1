package logging

import (
	"context"

	grpclogging "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// TraceFields are the trace and span ids of ctx's span, if it has one: a
// log line made while serving a request carries them, so that it can be
// found from the trace and the trace from it.
func TraceFields(ctx context.Context) []zap.Field {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return nil
	}
	return []zap.Field{zap.String("trace_id", sc.TraceID().String()), zap.String("span_id", sc.SpanID().String())}
}

// For is log with the trace of ctx: the logger of code that serves a
// request or handles an event.
func For(ctx context.Context, log *zap.Logger) *zap.Logger {
	if f := TraceFields(ctx); f != nil {
		return log.With(f...)
	}
	return log
}

// AddRequestField adds a field to the access log line of the request ctx
// serves (a correlation id, say); nothing outside a request.
func AddRequestField(ctx context.Context, key string, value any) {
	grpclogging.AddFields(ctx, grpclogging.Fields{key, value})
}
