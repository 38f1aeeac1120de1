package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	falconlog "github.com/falcon-chat/falcon/libs/logging"
)

// A REST request is logged once, by accessLogHTTP, with its route and HTTP
// status; the gRPC call the gateway makes for it in process is not logged
// again (servingHTTP). Neither log has bodies, headers or tokens in it.

type httpCallKey struct{}

// httpCall is what the gateway learns about a request while serving it.
type httpCall struct{ route string }

// withCall is ctx with an httpCall, if it has none yet, and that call.
func withCall(ctx context.Context) (context.Context, *httpCall) {
	if c, ok := ctx.Value(httpCallKey{}).(*httpCall); ok {
		return ctx, c
	}
	c := &httpCall{}
	return context.WithValue(ctx, httpCallKey{}, c), c
}

// servingHTTP says whether ctx is a REST request's.
func servingHTTP(ctx context.Context) bool {
	_, ok := ctx.Value(httpCallKey{}).(*httpCall)
	return ok
}

// accessLogHTTP writes one line per request next serves: method, route
// (the pattern, not the path, which holds ids), status, duration, response
// size, the caller's account once identity has established it, the
// correlation id of a command, and the trace.
func accessLogHTTP(log *zap.Logger, next http.Handler) http.Handler {
	log = log.Named("access")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, call := withCall(r.Context())
		// identify adds the account to these fields.
		ctx = logging.InjectFields(ctx, logging.Fields{})
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(ctx))
		lvl := zapcore.InfoLevel
		if sw.status >= http.StatusInternalServerError {
			lvl = zapcore.ErrorLevel
		}
		// Nothing is built for a level that is off.
		ce := log.Check(lvl, "finished request")
		if ce == nil {
			return
		}
		route := call.route
		if route == "" {
			route = "unmatched"
		}
		fields := []zap.Field{
			zap.String("protocol", "http"),
			zap.String("http.method", r.Method),
			zap.String("http.route", route),
			zap.Int("http.status", sw.status),
			zap.Duration("duration", time.Since(start)),
			zap.Int64("http.response_bytes", sw.bytes),
		}
		ce.Write(appendCallFields(ctx, fields)...)
	})
}

// appendCallFields appends what the call added to its access line (the
// account, write-api's correlation id) and its trace.
func appendCallFields(ctx context.Context, fields []zap.Field) []zap.Field {
	for it := logging.ExtractFields(ctx).Iterator(); it.Next(); {
		k, v := it.At()
		fields = append(fields, zap.Any(k, v))
	}
	return append(fields, falconlog.TraceFields(ctx)...)
}

// routeOf records the gateway route a request matched, for its access log
// line and its span's name (a gateway middleware: it runs once the route
// is known).
func routeOf(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if p, ok := runtime.HTTPPattern(r.Context()); ok {
			if c, ok := r.Context().Value(httpCallKey{}).(*httpCall); ok {
				c.route = strings.ReplaceAll(p.String(), "=*}", "}")
			}
		}
		next(w, r, params)
	}
}

// statusWriter keeps the status and size of an answer. It flushes, as
// server-sent events need.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	w.wroteHeader = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
