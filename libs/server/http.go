package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/tracing"
	falconproto "github.com/falcon-chat/falcon/proto"
)

// RegisterFunc registers a service's REST routes on the gateway, calling
// the service through conn.
type RegisterFunc func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error

// NewGateway returns the REST gateway of the services conn reaches (in Run,
// the services of the process, in process: see inProcess), so that REST
// requests pass through the same interceptors (identity, metrics) as gRPC
// ones. Unknown JSON fields are refused, not dropped; the message limits
// are the server's; errors the gateway itself makes get stable texts.
func NewGateway(ctx context.Context, log *zap.Logger, conn grpc.ClientConnInterface, register ...RegisterFunc) (http.Handler, error) {
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &restJSON{JSONPb: gatewayJSON()}),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithErrorHandler(gatewayErrors(log)),
		runtime.WithRoutingErrorHandler(routingErrors(log)),
		runtime.WithMiddlewares(routeOf),
		// A length ahead of the body spares a page's answer the chunk
		// framing and a write to the socket (net/http chunks what it
		// cannot buffer, 2 KB).
		runtime.WithWriteContentLength(),
	)
	for _, r := range register {
		if err := r(ctx, mux, conn); err != nil {
			return nil, fmt.Errorf("register gateway routes: %w", err)
		}
	}
	return mux, nil
}

// gatewayJSON is the gateway's protojson. Zero values are written (a
// version of "0", an empty list); unset messages are left out rather than
// written as null, as the OpenAPI document describes them (editedAt of a
// message never edited). Unknown fields are refused.
func gatewayJSON() runtime.JSONPb {
	return runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{EmitDefaultValues: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}
}

// gatewayStreams is the gateway's in-memory gRPC connection, for the
// streams it cannot call in process.
func gatewayStreams(tp trace.TracerProvider, dial func(context.Context, string) (net.Conn, error)) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient("passthrough:///gateway", grpc.WithContextDialer(dial),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(tracing.Propagator()))),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxResponseBytes), grpc.MaxCallSendMsgSize(MaxRequestBytes)),
		grpc.WithChainUnaryInterceptor(markServerErrors))
	if err != nil {
		return nil, fmt.Errorf("gateway connection: %w", err)
	}
	return conn, nil
}

// traceHTTP gives every REST request a span, continuing the caller's trace
// (traceparent), named after the route it matched ("POST
// /v1/threads/{thread_id}/messages", as routeOf found it).
func traceHTTP(tp trace.TracerProvider, h http.Handler) http.Handler {
	if !tracing.Records(tp) {
		// No spans to make: only the caller's trace context, passed on to
		// the events a command appends. otelhttp built a request's span
		// and metric attributes anyway (~5 % of falcon dev's CPU under
		// REST ListMessages).
		prop := tracing.Propagator()
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, _ := withCall(r.Context())
			h.ServeHTTP(w, r.WithContext(prop.Extract(ctx, propagation.HeaderCarrier(r.Header))))
		})
	}
	named := func(_ string, r *http.Request) string {
		if c, ok := r.Context().Value(httpCallKey{}).(*httpCall); ok && c.route != "" {
			return r.Method + " " + c.route
		}
		return r.Method
	}
	traced := otelhttp.NewHandler(h, "REST", otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(tracing.Propagator()),
		otelhttp.WithSpanNameFormatter(named))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, _ := withCall(r.Context())
		traced.ServeHTTP(w, r.WithContext(ctx))
	})
}

// correlationHeader names a caller's correlation id (write-api puts it in
// the events it appends).
const correlationHeader = "x-correlation-id"

// incomingHeader says which HTTP headers reach the gRPC services as
// metadata: the identity headers and the standard ones grpc-gateway maps,
// but no Grpc-Metadata-* header: a REST client cannot set metadata the
// services use among themselves (the replicas' forwarding proof).
func incomingHeader(key string) (string, bool) {
	if strings.EqualFold(key, auth.AccountHeader) {
		return auth.AccountHeader, true
	}
	if strings.EqualFold(key, correlationHeader) {
		return correlationHeader, true
	}
	if strings.HasPrefix(strings.ToLower(key), strings.ToLower(runtime.MetadataHeaderPrefix)) {
		return "", false
	}
	return runtime.DefaultHeaderMatcher(key)
}

// ReadyFunc says whether a service can take traffic; nil means ready.
type ReadyFunc func() error

// publicMux serves the REST gateway at / with /healthz, /readyz and
// /openapi.json: what clients may reach. Metrics and profiles are not on it.
func publicMux(gateway http.Handler, ready ReadyFunc) *http.ServeMux {
	mux := healthMux(ready)
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(falconproto.OpenAPI)
	})
	if gateway != nil {
		mux.Handle("/", http.MaxBytesHandler(gateway, MaxRequestBytes))
	}
	return mux
}

// Admin is what the admin listener offers besides health and metrics.
type Admin struct {
	// Pprof serves CPU, heap and goroutine profiles under /debug/pprof/.
	Pprof bool
	// LogLevel, if set, is read (GET) and changed (PUT {"level":"debug"})
	// at /log/level while the process runs.
	LogLevel *zap.AtomicLevel
}

// adminMux serves /healthz, /readyz, /metrics and what a offers: the admin
// listener, for the monitoring system and operators only.
func adminMux(ready ReadyFunc, g prometheus.Gatherer, a Admin) *http.ServeMux {
	mux := healthMux(ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	if a.LogLevel != nil {
		mux.Handle("/log/level", a.LogLevel)
	}
	if a.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func healthMux(ready ReadyFunc) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}
