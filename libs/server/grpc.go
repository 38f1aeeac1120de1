// Package server runs a service's network front: the gRPC server with its
// interceptors (recovery, metrics, identity), the REST gateway, health,
// readiness, metrics and the OpenAPI document, and their graceful shutdown.
package server

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/falcon-chat/falcon/libs/auth"
)

// RPCMetrics counts and times every RPC.
type RPCMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewRPCMetrics registers the RPC metrics with reg.
func NewRPCMetrics(reg prometheus.Registerer) *RPCMetrics {
	m := &RPCMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "falcon_grpc_requests_total", Help: "RPCs handled, by method and status code.",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "falcon_grpc_request_duration_seconds",
			Help:    "RPC latency, by method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

func (m *RPCMetrics) interceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	m.latency.WithLabelValues(info.FullMethod).Observe(time.Since(start).Seconds())
	m.requests.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
	return resp, err
}

// recovery turns a panic in a handler into Internal, logged once here, so
// one bad request never takes the process down.
func recovery(log *zap.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("handler panicked", zap.String("method", info.FullMethod), zap.Any("panic", r), zap.Stack("stack"))
				err = status.Errorf(codes.Internal, "internal error in %s; it was logged", info.FullMethod)
			}
		}()
		return handler(ctx, req)
	}
}

// NewGRPC returns a gRPC server with recovery, metrics, identity and, with
// a rate limiter, the address budget before identity and the account
// budget after; the message size limits, keepalive enforcement and the
// stream limit; and the health service registered.
func NewGRPC(log *zap.Logger, a auth.Authenticator, m *RPCMetrics, hs *health.Server, l Limits, rl *rateLimiter) *grpc.Server {
	l = l.orDefaults()
	chain := interceptors(log, a, m, rl)
	streams := make([]grpc.StreamServerInterceptor, len(chain))
	for i, u := range chain {
		streams[i] = streamFrom(u)
	}
	s := grpc.NewServer(
		grpc.ChainUnaryInterceptor(chain...),
		grpc.ChainStreamInterceptor(streams...),
		grpc.MaxRecvMsgSize(MaxRequestBytes),
		grpc.MaxSendMsgSize(MaxResponseBytes),
		grpc.MaxConcurrentStreams(l.MaxStreams),
		grpc.MaxHeaderListSize(MaxHeaderBytes),
		grpc.ConnectionTimeout(l.ReadTimeout),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: l.KeepaliveMinInterval, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: l.IdleTimeout, Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.ForceServerCodecV2(stableCodec{encoding.GetCodecV2(protoCodecName)}),
	)
	healthpb.RegisterHealthServer(s, hs)
	return s
}

// interceptors are what every call passes through, gRPC or REST, in order:
// metrics (outermost, so that a panic counts as the Internal it becomes),
// recovery and, with a rate limiter, the address budget before identity and
// the account budget after.
func interceptors(log *zap.Logger, a auth.Authenticator, m *RPCMetrics, rl *rateLimiter) []grpc.UnaryServerInterceptor {
	chain := []grpc.UnaryServerInterceptor{m.interceptor, recovery(log)}
	if rl != nil {
		return append(chain, rl.byAddressInterceptor, auth.UnaryInterceptor(a), rl.byAccountInterceptor)
	}
	return append(chain, auth.UnaryInterceptor(a))
}

const protoCodecName = "proto"

// errMalformedMessage is what a client sending bytes that do not decode
// reads, instead of the decoder's detail.
var errMalformedMessage = errors.New("the request is not a well-formed protobuf message of the method's request type")

// stableCodec is the proto codec with a fixed text for undecodable requests.
type stableCodec struct{ encoding.CodecV2 }

func (c stableCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if err := c.CodecV2.Unmarshal(data, v); err != nil {
		return errMalformedMessage
	}
	return nil
}

// streamFrom applies a unary interceptor to a stream as a whole: its checks
// (identity, budgets) run when the stream starts, its recovery and metrics
// span the stream, and the handler gets the context it passes on.
func streamFrom(u grpc.UnaryServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		_, err := u(ss.Context(), nil, &grpc.UnaryServerInfo{Server: srv, FullMethod: info.FullMethod},
			func(ctx context.Context, _ any) (any, error) {
				return nil, handler(srv, contextStream{ServerStream: ss, ctx: ctx})
			})
		return err
	}
}

// contextStream is a stream with the context the interceptors built.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s contextStream) Context() context.Context { return s.ctx }
