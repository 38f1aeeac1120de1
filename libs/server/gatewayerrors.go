package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	falconlog "github.com/falcon-chat/falcon/libs/logging"
)

// gatewayErrors answers REST errors the grpc-gateway way, except that
// errors the gateway or the gRPC transport made themselves get fixed texts
// a client can act on, instead of decoder, strconv or transport internals.
// The original is logged.
func gatewayErrors(log *zap.Logger) runtime.ErrorHandlerFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
		err = stableError(log, r, err)
		// When to retry (rate limits, a partition changing owner), for
		// clients that read headers rather than bodies.
		for _, d := range status.Convert(err).Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(ri.GetRetryDelay().AsDuration().Seconds())))))
			}
		}
		runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
	}
}

// routingErrors answers requests no route takes: 404 for an unknown path,
// 405 for a method the path does not have (the gateway's default says 501,
// a server error, for a client's mistake).
func routingErrors(log *zap.Logger) runtime.RoutingErrorHandlerFunc {
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, code int) {
		var err error
		switch code {
		case http.StatusNotFound:
			err = status.Error(codes.NotFound, "no such route: see /openapi.json")
		case http.StatusMethodNotAllowed:
			err = status.Errorf(codes.Unimplemented, "%s is not a method of this route: see /openapi.json", r.Method)
		default:
			log.Debug("REST routing refused a request", zap.String("path", r.URL.Path), zap.Int("status", code))
			err = status.Error(codes.InvalidArgument, http.StatusText(code))
		}
		runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: code, Err: err})
	}
}

var (
	typeMismatch = regexp.MustCompile(`^type mismatch, parameter: ([A-Za-z0-9_.]+)`)
	unknownField = regexp.MustCompile(`unknown field "([A-Za-z0-9_.]+)"`)
	badFieldJSON = regexp.MustCompile(`invalid value for [a-z0-9 ]*field ([A-Za-z0-9_.]+)`)
	// badQuery is how the gateway reports a query parameter it cannot
	// parse into the request (names that do not exist, bad values).
	tooLarge = regexp.MustCompile(`larger than max \(\d+ vs\. (\d+)\)`)
	badQuery = regexp.MustCompile(`(?:parsing field|parameter|field) "?([A-Za-z0-9_.]+)"?`)
)

// serverError marks an error the gateway's gRPC call returned: the
// service's own answer (or the transport's), as opposed to one the gateway
// made before calling (decoding the body, the path, the query).
type serverError struct{ err error }

func (e *serverError) Error() string              { return e.err.Error() }
func (e *serverError) Unwrap() error              { return e.err }
func (e *serverError) GRPCStatus() *status.Status { return status.Convert(e.err) }

// markServerErrors is the gateway connection's interceptor that marks what
// its calls return as serverError.
func markServerErrors(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
		return &serverError{err: err}
	}
	return nil
}

// stableError maps an error the gateway or transport made to a fixed
// message; the services' own errors pass unchanged.
func stableError(log *zap.Logger, r *http.Request, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		falconlog.For(r.Context(), log).Error("REST request failed outside gRPC", zap.String("path", r.URL.Path), zap.Error(err))
		return status.Error(codes.Internal, "internal error; it was logged")
	}
	msg := st.Message()
	client := func(code codes.Code, field, text string) error {
		log.Debug("REST request refused", zap.String("path", r.URL.Path), zap.String("detail", msg))
		s := status.New(code, text)
		if field != "" {
			if d, derr := s.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: text}}}); derr == nil {
				s = d
			}
		}
		return s.Err()
	}
	var fromServer *serverError
	if errors.As(err, &fromServer) {
		return stableTransportError(log, r, st, err)
	}
	switch st.Code() {
	case codes.InvalidArgument:
		switch {
		case strings.Contains(msg, "request body too large"):
			return &runtime.HTTPStatusError{HTTPStatus: http.StatusRequestEntityTooLarge,
				Err: client(codes.InvalidArgument, "", fmt.Sprintf("the request body is larger than %d bytes", MaxRequestBytes))}
		case strings.HasPrefix(msg, "missing parameter "):
			return err
		}
		if f := typeMismatch.FindStringSubmatch(msg); f != nil {
			return client(codes.InvalidArgument, f[1], fmt.Sprintf("query parameter %s: unknown, or not a valid value", f[1]))
		}
		if f := unknownField.FindStringSubmatch(msg); f != nil {
			return client(codes.InvalidArgument, f[1], fmt.Sprintf("unknown field %q", f[1]))
		}
		if f := badFieldJSON.FindStringSubmatch(msg); f != nil {
			return client(codes.InvalidArgument, f[1], fmt.Sprintf("%s: not a valid value of its type", f[1]))
		}
		if r.Method == http.MethodGet || r.Method == http.MethodDelete {
			if f := badQuery.FindStringSubmatch(msg); f != nil {
				return client(codes.InvalidArgument, f[1], fmt.Sprintf("query parameter %s: unknown, or not a valid value", f[1]))
			}
			return client(codes.InvalidArgument, "", "the query string is malformed")
		}
		return client(codes.InvalidArgument, "", "the request body is not a JSON object of this method's request (see /openapi.json)")
	case codes.Internal, codes.Unknown:
		falconlog.For(r.Context(), log).Error("REST request failed in the gateway", zap.String("path", r.URL.Path), zap.String("detail", msg))
		return status.Error(codes.Internal, "internal error; it was logged")
	}
	return err
}

// stableTransportError replaces what the gRPC transport says of sizes,
// connections and undecodable messages; a service's own answer passes.
func stableTransportError(log *zap.Logger, r *http.Request, st *status.Status, err error) error {
	msg := st.Message()
	switch st.Code() {
	case codes.ResourceExhausted:
		// "... larger than max (size vs. limit)", from either end: the limit
		// says whether a request or a response was too large.
		if f := tooLarge.FindStringSubmatch(msg); f != nil {
			if f[1] == strconv.Itoa(MaxResponseBytes) {
				// Responses are bounded by construction: a bug to fix.
				falconlog.For(r.Context(), log).Error("a response exceeded its limit", zap.String("path", r.URL.Path), zap.String("detail", msg))
				return status.Error(codes.Internal, "the answer was too large to send; it was logged")
			}
			log.Debug("REST request refused", zap.String("path", r.URL.Path), zap.String("detail", msg))
			return &runtime.HTTPStatusError{HTTPStatus: http.StatusRequestEntityTooLarge,
				Err: status.Errorf(codes.InvalidArgument, "the request is larger than %d bytes", MaxRequestBytes)}
		}
	case codes.Internal, codes.Unknown:
		// A string field that is not UTF-8 (from a query parameter, which
		// the gateway does not check) fails when the request is encoded.
		if strings.Contains(msg, "marshal") && strings.Contains(msg, "UTF-8") {
			log.Debug("REST request refused", zap.String("path", r.URL.Path), zap.String("detail", msg))
			return status.Error(codes.InvalidArgument, "a parameter or field is not valid UTF-8")
		}
		falconlog.For(r.Context(), log).Error("REST request failed", zap.String("path", r.URL.Path), zap.String("code", st.Code().String()), zap.String("detail", msg))
		if !strings.Contains(msg, "it was logged") {
			return status.Error(codes.Internal, "internal error; it was logged")
		}
	case codes.Unavailable:
		if strings.HasPrefix(msg, "connection error") {
			falconlog.For(r.Context(), log).Warn("the gateway cannot reach its gRPC server", zap.String("detail", msg))
			return status.Error(codes.Unavailable, "the service is unavailable; retry")
		}
	}
	return err
}
