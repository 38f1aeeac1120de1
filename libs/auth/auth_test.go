package auth

import (
	"context"
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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := metadata.NewIncomingContext(context.Background(), tc.md)
			got, err := icpt(ctx, nil, &grpc.UnaryServerInfo{FullMethod: tc.method}, handler)
			if status.Code(err) != tc.code {
				t.Fatalf("code %v, want %v (%v)", status.Code(err), tc.code, err)
			}
			if err == nil && got != tc.want {
				t.Fatalf("account %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := New("basic", JWTOptions{}); err == nil {
		t.Fatal("an unknown auth mode was accepted")
	}
}
