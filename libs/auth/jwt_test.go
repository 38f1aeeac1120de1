package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	a, err := NewJWT(context.Background(), JWTOptions{PublicKeyFile: file, Issuer: "https://id.example", Audience: "falcon"})
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
		{"scheme in lower case", "bearer " + strings.TrimPrefix(sign(key, good), "Bearer "), "alice"},
		{"valid for 100 years", sign(key, with(func(c *jwt.RegisteredClaims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(100 * 365 * 24 * time.Hour)) })), ""},
		{"no issue time", sign(key, with(func(c *jwt.RegisteredClaims) { c.IssuedAt = nil })), ""},
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
	for _, bad := range []JWTOptions{
		{},
		{PublicKeyFile: filepath.Join(t.TempDir(), "missing.pem"), Issuer: "i", Audience: "a"},
		{PublicKeyFile: "jwt_test.go", Issuer: "i", Audience: "a"},
		{PublicKeyFile: file, Audience: "falcon"},                                             // no issuer
		{PublicKeyFile: file, Issuer: "https://id.example"},                                   // no audience
		{PublicKeyFile: file, JWKSURL: "https://id.example/jwks", Issuer: "i", Audience: "a"}, // two sources
		{JWKSURL: "http://id.example/jwks", Issuer: "i", Audience: "a"},                       // plain http off loopback
	} {
		if _, err := NewJWT(context.Background(), bad); err == nil {
			t.Errorf("NewJWT(%+v) accepted", bad)
		}
	}
}

// jwks is a JWKS document of EC keys by kid.
func jwks(t *testing.T, keys map[string]*ecdsa.PrivateKey) []byte {
	t.Helper()
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	for kid, k := range keys {
		size := (k.Curve.Params().BitSize + 7) / 8
		x, y := make([]byte, size), make([]byte, size)
		k.X.FillBytes(x)
		k.Y.FillBytes(y)
		doc.Keys = append(doc.Keys, map[string]string{"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
			"x": base64.RawURLEncoding.EncodeToString(x), "y": base64.RawURLEncoding.EncodeToString(y)})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signKid(t *testing.T, k *ecdsa.PrivateKey, kid, sub string) metadata.MD {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{Subject: sub, Issuer: "https://id.example",
		Audience: jwt.ClaimStrings{"falcon"}, ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now)})
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return metadata.Pairs("authorization", "Bearer "+s)
}

// TestJWKSRotation: keys come from a JWKS endpoint by kid; a token signed
// with a key the issuer added after the last fetch is accepted once the
// set is fetched again, and one whose key was withdrawn is refused.
func TestJWKSRotation(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var mu sync.Mutex
	current := map[string]*ecdsa.PrivateKey{"k1": k1}
	fetches := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		_, _ = w.Write(jwks(t, current))
	}))
	defer srv.Close()
	a, err := NewJWT(context.Background(), JWTOptions{JWKSURL: srv.URL, Issuer: "https://id.example", Audience: "falcon"})
	if err != nil {
		t.Fatal(err)
	}
	a.keys.(*urlKeys).minRefresh = 0
	ctx := context.Background()
	if got, err := a.Authenticate(ctx, signKid(t, k1, "k1", "alice")); err != nil || got != "alice" {
		t.Fatalf("k1: %q, %v", got, err)
	}
	if _, err := a.Authenticate(ctx, signKid(t, k2, "k2", "bob")); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("k2 before it was published: %v", err)
	}
	mu.Lock()
	current = map[string]*ecdsa.PrivateKey{"k2": k2}
	mu.Unlock()
	if got, err := a.Authenticate(ctx, signKid(t, k2, "k2", "bob")); err != nil || got != "bob" {
		t.Fatalf("k2 after the rotation: %q, %v", got, err)
	}
	if _, err := a.Authenticate(ctx, signKid(t, k1, "k2", "mallory")); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("k1's signature under k2's kid: %v", err)
	}
	if fetches < 2 {
		t.Fatalf("%d fetches: an unknown kid did not fetch the set again", fetches)
	}
}

// TestJWKSFileIsReadAgainWhenItChanges: a mounted JWKS file that changes
// (a rotated Secret) is read again; until then the old keys hold.
func TestJWKSFileIsReadAgainWhenItChanges(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, jwks(t, map[string]*ecdsa.PrivateKey{"k1": k1}), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := NewJWT(context.Background(), JWTOptions{JWKSFile: file, Issuer: "https://id.example", Audience: "falcon"})
	if err != nil {
		t.Fatal(err)
	}
	a.keys.(*fileKeys).checkEvery = 0
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, signKid(t, k1, "k1", "alice")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, jwks(t, map[string]*ecdsa.PrivateKey{"k2": k2}), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(file, later, later); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Authenticate(ctx, signKid(t, k2, "k2", "bob")); err != nil || got != "bob" {
		t.Fatalf("k2 after the file changed: %q, %v", got, err)
	}
	if _, err := a.Authenticate(ctx, signKid(t, k1, "k1", "alice")); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("k1 after it left the file: %v", err)
	}
}
