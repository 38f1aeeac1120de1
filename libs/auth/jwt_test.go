package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestJWT(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	file := filepath.Join(t.TempDir(), "pub.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := NewJWT(JWTOptions{PublicKeyFile: file, Issuer: "https://id.example", Audience: "falcon"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sign := func(k *ecdsa.PrivateKey, c jwt.RegisteredClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodES256, c).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	good := jwt.RegisteredClaims{Subject: "alice", Issuer: "https://id.example", Audience: jwt.ClaimStrings{"falcon"},
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now)}
	with := func(f func(*jwt.RegisteredClaims)) jwt.RegisteredClaims {
		c := good
		f(&c)
		return c
	}
	hs, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, good).SignedString(der) // the public key as an HMAC secret
	cases := []struct {
		name   string
		header string
		want   string // account, or "" for Unauthenticated
	}{
		{"valid", sign(key, good), "alice"},
		{"no header", "", ""},
		{"not bearer", "Basic YWxpY2U=", ""},
		{"other key", sign(other, good), ""},
		{"expired", sign(key, with(func(c *jwt.RegisteredClaims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour)) })), ""},
		{"no expiry", sign(key, with(func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil })), ""},
		{"no subject", sign(key, with(func(c *jwt.RegisteredClaims) { c.Subject = "" })), ""},
		{"other issuer", sign(key, with(func(c *jwt.RegisteredClaims) { c.Issuer = "https://evil.example" })), ""},
		{"other audience", sign(key, with(func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{"other"} })), ""},
		{"HMAC with the public key", "Bearer " + hs, ""},
		{"garbage", "Bearer not.a.token", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			md := metadata.MD{}
			if c.header != "" {
				md.Set("authorization", c.header)
			}
			got, err := a.Authenticate(context.Background(), md)
			if c.want != "" {
				if err != nil || got != c.want {
					t.Fatalf("got %q, %v; want %q", got, err, c.want)
				}
				return
			}
			if status.Code(err) != codes.Unauthenticated || status.Convert(err).Message() == "" {
				t.Fatalf("got %q, %v; want Unauthenticated with a reason", got, err)
			}
		})
	}
	for _, bad := range []JWTOptions{{}, {PublicKeyFile: filepath.Join(t.TempDir(), "missing.pem")}, {PublicKeyFile: "jwt_test.go"}} {
		if _, err := NewJWT(bad); err == nil {
			t.Errorf("NewJWT(%+v) accepted", bad)
		}
	}
}
