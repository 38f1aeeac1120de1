package server

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// grpcAccess writes one line per gRPC call when it finishes ("finished
// call", with the fields go-grpc-middleware's logging interceptor writes).
// It is ours rather than that interceptor because of what a call holds
// until its end: the interceptor builds its line's ~27 objects when the
// call starts, and an event stream keeps them as long as it is open (2 KB a
// stream; at 10,000 subscribers 20 MB that every garbage collection marks),
// whether or not the line will be written. Here a call carries only the
// fields it adds (the account), and the line is built only if its level is
// on. A REST call is logged by accessLogHTTP instead.
type grpcAccess struct{ log *zap.Logger }

func newGRPCAccess(log *zap.Logger) grpcAccess { return grpcAccess{log: log.Named("access")} }

func (a grpcAccess) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if servingHTTP(ctx) {
		return handler(ctx, req)
	}
	start := time.Now()
	// identify adds the account to these fields, write-api its correlation id.
	ctx = logging.InjectFields(ctx, logging.Fields{})
	resp, err := handler(ctx, req)
	a.finished(ctx, interceptors.NewServerCallMeta(info.FullMethod, nil, nil), start, err)
	return resp, err
}

func (a grpcAccess) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx := ss.Context()
	if servingHTTP(ctx) {
		return handler(srv, ss)
	}
	start := time.Now()
	ctx = logging.InjectFields(ctx, logging.Fields{})
	err := handler(srv, contextStream{ServerStream: ss, ctx: ctx})
	a.finished(ctx, interceptors.NewServerCallMeta(info.FullMethod, info, nil), start, err)
	return err
}

func (a grpcAccess) finished(ctx context.Context, call interceptors.CallMeta, start time.Time, err error) {
	if errors.Is(err, io.EOF) {
		err = nil
	}
	code := status.Code(err)
	ce := a.log.Check(accessLevel(code), "finished call")
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 16)
	fields = append(fields, zap.String("protocol", "grpc"), zap.String("grpc.component", "server"),
		zap.String("grpc.service", call.Service), zap.String("grpc.method", call.Method), zap.String("grpc.method_type", string(call.Typ)))
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		fields = append(fields, zap.String("peer.address", p.Addr.String()))
	}
	fields = append(fields, zap.String("grpc.start_time", start.Format(time.RFC3339)))
	if d, ok := ctx.Deadline(); ok {
		fields = append(fields, zap.String("grpc.request.deadline", d.Format(time.RFC3339)))
	}
	fields = append(fields, zap.String("grpc.code", code.String()))
	if err != nil {
		fields = append(fields, zap.String("grpc.error", err.Error()))
	}
	fields = append(fields, zap.String("grpc.duration", time.Since(start).String()))
	ce.Write(appendCallFields(ctx, fields)...)
}

// accessLevel is a finished call's level: info for answers that are the
// caller's business, warn for refusals and overload, error for faults.
func accessLevel(c codes.Code) zapcore.Level {
	switch c {
	case codes.OK, codes.NotFound, codes.Canceled, codes.AlreadyExists, codes.InvalidArgument, codes.Unauthenticated:
		return zapcore.InfoLevel
	case codes.DeadlineExceeded, codes.PermissionDenied, codes.ResourceExhausted, codes.FailedPrecondition, codes.Aborted,
		codes.OutOfRange, codes.Unavailable:
		return zapcore.WarnLevel
	}
	return zapcore.ErrorLevel
}
