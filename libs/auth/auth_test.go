package auth

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestUnaryInterceptor(t *testing.T) {
	icpt := UnaryInterceptor(Dev{})
	handler := func(ctx context.Context, _ any) (any, error) {
		a, _ := Account(ctx)
		return a, nil
	}
	cases := []struct {
		name   string
		md     metadata.MD
		method string
		want   string
		code   codes.Code
	}{
		{"identified", metadata.Pairs(AccountHeader, "alice"), "/falcon.v1.ThreadQueryService/GetThread", "alice", codes.OK},
		{"no identity", metadata.MD{}, "/falcon.v1.ThreadQueryService/GetThread", "", codes.Unauthenticated},
		{"blank identity", metadata.Pairs(AccountHeader, " "), "/falcon.v1.ThreadQueryService/GetThread", "", codes.Unauthenticated},
		{"health needs none", metadata.MD{}, "/grpc.health.v1.Health/Check", "", codes.OK},
		{"no exemption for a made-up internal service", metadata.MD{}, "/falcon.internal.Anything/Do", "", codes.Unauthenticated},
		{"markup as an account", metadata.Pairs(AccountHeader, "<script>alert(1)</script>"), "/falcon.v1.ThreadQueryService/GetThread", "", codes.Unauthenticated},
		{"spaces inside an account", metadata.Pairs(AccountHeader, "bob smith"), "/falcon.v1.ThreadQueryService/GetThread", "", codes.Unauthenticated},
		{"a 600 KB account", metadata.Pairs(AccountHeader, strings.Repeat("a", 600<<10)), "/falcon.v1.ThreadQueryService/GetThread", "", codes.Unauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := metadata.NewIncomingContext(context.Background(), tc.md)
			got, err := icpt(ctx, nil, &grpc.UnaryServerInfo{FullMethod: tc.method}, handler)
			if status.Code(err) != tc.code {
				t.Fatalf("code %v, want %v (%v)", status.Code(err), tc.code, err)
			}
			if len(status.Convert(err).Message()) > 300 {
				t.Fatalf("the error echoes the input: %d bytes", len(status.Convert(err).Message()))
			}
			if err == nil && got != tc.want {
				t.Fatalf("account %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := New(context.Background(), "basic", JWTOptions{}); err == nil {
		t.Fatal("an unknown auth mode was accepted")
	}
}
