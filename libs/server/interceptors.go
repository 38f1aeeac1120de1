package server

import (
	"context"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	authmw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/falcon-chat/falcon/libs/auth"
	falconlog "github.com/falcon-chat/falcon/libs/logging"
)

// rpcBuckets are the latency buckets of grpc_server_handling_seconds: from
// a cached read (well under a millisecond) to a command waiting out a
// partition takeover (seconds).
var rpcBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// newRPCMetrics registers the standard gRPC server metrics
// (grpc_server_started_total, grpc_server_handled_total,
// grpc_server_msg_*_total, grpc_server_handling_seconds) with reg.
func newRPCMetrics(reg prometheus.Registerer) *grpcprom.ServerMetrics {
	m := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(rpcBuckets)))
	reg.MustRegister(m)
	return m
}

// callInterceptors are what every call passes through, gRPC or REST, in
// this order: metrics (outermost, so that a panic counts as the Internal
// it becomes), the access log, recovery, the address budget (with a rate
// limiter), identity (but for health and reflection) and the account
// budget.
type callInterceptors struct {
	unary  []grpc.UnaryServerInterceptor
	stream []grpc.StreamServerInterceptor
}

// observing is what the interceptors report to: logs, metrics, and whether
// each call gets an access log line.
type observing struct {
	log       *zap.Logger
	metrics   *grpcprom.ServerMetrics
	accessLog bool
}

func newInterceptors(o observing, a auth.Authenticator, rl *rateLimiter) callInterceptors {
	var ic callInterceptors
	add := func(u grpc.UnaryServerInterceptor, s grpc.StreamServerInterceptor) {
		ic.unary, ic.stream = append(ic.unary, u), append(ic.stream, s)
	}
	add(o.metrics.UnaryServerInterceptor(), o.metrics.StreamServerInterceptor())
	if o.accessLog {
		a := newGRPCAccess(o.log)
		add(a.unary, a.stream)
	}
	rec := recovery.WithRecoveryHandlerContext(panicked(o.log))
	add(recovery.UnaryServerInterceptor(rec), recovery.StreamServerInterceptor(rec))
	if rl != nil {
		add(rl.byAddressInterceptor, streamFrom(rl.byAddressInterceptor))
	}
	private := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool { return !auth.Public(c.FullMethod()) })
	identify := identify(a)
	add(selector.UnaryServerInterceptor(authmw.UnaryServerInterceptor(identify), private),
		selector.StreamServerInterceptor(authmw.StreamServerInterceptor(identify), private))
	if rl != nil {
		add(rl.byAccountInterceptor, streamFrom(rl.byAccountInterceptor))
	}
	return ic
}

// identify establishes the caller's account, and names it in the call's
// access log line.
func identify(a auth.Authenticator) authmw.AuthFunc {
	return func(ctx context.Context) (context.Context, error) {
		account, err := auth.Identify(ctx, a)
		if err != nil {
			return nil, err
		}
		logging.AddFields(ctx, logging.Fields{"account", account})
		return auth.WithAccount(ctx, account), nil
	}
}

// panicked turns a panic in a handler into Internal, logged once here with
// its stack, so one bad request never takes the process down.
func panicked(log *zap.Logger) recovery.RecoveryHandlerFuncContext {
	return func(ctx context.Context, p any) error {
		method, _ := grpc.Method(ctx)
		falconlog.For(ctx, log).Error("handler panicked", zap.String("method", method), zap.Any("panic", p), zap.Stack("stack"))
		return status.Errorf(codes.Internal, "internal error in %s; it was logged", method)
	}
}

// streamFrom applies a unary interceptor to a stream as a whole: its checks
// (the budgets) run when the stream starts, and the handler gets the
// context it passes on.
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
