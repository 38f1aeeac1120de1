// Package server runs a service's network front: the gRPC server with its
// interceptors (recovery, metrics, identity), the REST gateway, health,
// readiness, metrics and the OpenAPI document, and their graceful shutdown.
package server

import (
	"runtime"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"

	"github.com/falcon-chat/falcon/libs/tracing"
)

// newGRPC returns a gRPC server with the interceptors of ic and a span per
// call traced by tp; the message size limits, keepalive enforcement and the
// stream limit; the health service and, with withReflection, server
// reflection registered.
func newGRPC(ic callInterceptors, hs *health.Server, l Limits, withReflection bool, tp trace.TracerProvider) *grpc.Server {
	l = l.orDefaults()
	// A span per call, continuing the caller's trace (traceparent); with
	// tracing off, only the caller's trace context, passed on.
	var traced stats.Handler = traceContext{}
	if tracing.Records(tp) {
		traced = otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(tracing.Propagator()))
	}
	s := grpc.NewServer(
		grpc.StatsHandler(traced),
		grpc.ChainUnaryInterceptor(ic.unary...),
		grpc.ChainStreamInterceptor(ic.stream...),
		grpc.MaxRecvMsgSize(MaxRequestBytes),
		grpc.MaxSendMsgSize(MaxResponseBytes),
		grpc.MaxConcurrentStreams(l.MaxStreams),
		grpc.MaxHeaderListSize(MaxHeaderBytes),
		grpc.ConnectionTimeout(l.ReadTimeout),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: l.KeepaliveMinInterval, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: l.IdleTimeout, Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.ForceServerCodecV2(codec{encoding.GetCodecV2(protoCodecName)}),
		// Calls run on goroutines kept between calls, whose stacks have
		// grown to what a call needs, instead of a new goroutine each that
		// grows its stack again (runtime.newstack and copystack were ~9 % of
		// read-api's CPU under ListMessages). Calls beyond them, and
		// streams that hold one, get a goroutine of their own as before.
		grpc.NumStreamWorkers(uint32(streamWorkersPerCPU*runtime.GOMAXPROCS(0))),
	)
	healthpb.RegisterHealthServer(s, hs)
	if withReflection {
		reflection.Register(s)
	}
	return s
}

const protoCodecName = "proto"

// streamWorkersPerCPU sizes the gRPC server's pool of call goroutines: a
// call waiting (for a version, a store's answer) holds one.
const streamWorkersPerCPU = 16
