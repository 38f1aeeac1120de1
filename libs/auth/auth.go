// Package auth establishes who calls: an Authenticator reads the caller's
// account from request metadata (never from a request body), and gRPC
// interceptors put it into the context or refuse the call.
package auth

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/falcon-chat/falcon/libs/domain"
)

// AccountHeader is the development identity header (gRPC metadata key).
const AccountHeader = "x-account-id"

// Authenticator returns the account that made a call from its metadata.
type Authenticator interface {
	Authenticate(ctx context.Context, md metadata.MD) (account string, err error)
}

// Dev trusts the x-account-id header. For development only.
type Dev struct{}

// Authenticate returns the account of the x-account-id header.
func (Dev) Authenticate(_ context.Context, md metadata.MD) (string, error) {
	v := md.Get(AccountHeader)
	if len(v) == 0 || strings.TrimSpace(v[0]) == "" {
		return "", status.Error(codes.Unauthenticated, "no identity: send the caller's account in the X-Account-Id header (gRPC metadata x-account-id)")
	}
	return strings.TrimSpace(v[0]), nil
}

// New returns the authenticator for a mode of the --auth flag.
func New(ctx context.Context, mode string, jwtOpts JWTOptions) (Authenticator, error) {
	switch mode {
	case "dev":
		return Dev{}, nil
	case "jwt":
		return NewJWT(ctx, jwtOpts)
	}
	return nil, fmt.Errorf("--auth=%q: want dev or jwt", mode)
}

type accountKey struct{}

// WithAccount returns ctx carrying the caller's account.
func WithAccount(ctx context.Context, account string) context.Context {
	return context.WithValue(ctx, accountKey{}, account)
}

// Account returns the caller's account established by the interceptor.
func Account(ctx context.Context) (string, bool) {
	a, ok := ctx.Value(accountKey{}).(string)
	return a, ok && a != ""
}

// Public says whether a method is served without identity: health checks
// (probes) and server reflection (the API's schema, which /openapi.json
// publishes too). Every other call is authenticated, and its identity
// checked to be a valid account id (domain's rule), so no service ever sees
// a malformed or hostile one.
func Public(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/") || strings.HasPrefix(fullMethod, "/grpc.reflection.")
}

// Identify authenticates the caller of ctx and checks its account id.
func Identify(ctx context.Context, a Authenticator) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	account, err := a.Authenticate(ctx, md)
	if err != nil {
		if _, ok := status.FromError(err); !ok {
			err = status.Error(codes.Unauthenticated, err.Error())
		}
		return "", err
	}
	if err := domain.ValidateAccountID("identity", account); err != nil {
		return "", status.Errorf(codes.Unauthenticated, "the caller's identity is not a valid account id: %v", err)
	}
	return account, nil
}
