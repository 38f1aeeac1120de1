package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// JWTOptions configure the production authenticator.
type JWTOptions struct {
	// PublicKeyFile is a PEM file with the identity system's public key
	// (RSA, ECDSA or Ed25519) that signs the tokens.
	PublicKeyFile string
	// Issuer and Audience, when set, must match the token's iss and aud.
	Issuer   string
	Audience string
}

// Leeway is the clock skew tolerated on exp, nbf and iat.
const Leeway = 30 * time.Second

// JWT trusts `Authorization: Bearer <token>`: a token signed with the
// configured public key, not expired, whose subject is the account.
type JWT struct {
	key    crypto.PublicKey
	parser *jwt.Parser
}

// NewJWT loads the public key.
func NewJWT(o JWTOptions) (*JWT, error) {
	if o.PublicKeyFile == "" {
		return nil, errors.New("--auth=jwt needs --jwt-public-key-file (PEM public key of the token issuer)")
	}
	b, err := os.ReadFile(o.PublicKeyFile)
	if err != nil {
		return nil, fmt.Errorf("--jwt-public-key-file: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("--jwt-public-key-file %s holds no PEM block", o.PublicKeyFile)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("--jwt-public-key-file %s: %w", o.PublicKeyFile, err)
	}
	var methods []string
	switch key.(type) {
	case *rsa.PublicKey:
		methods = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case *ecdsa.PublicKey:
		methods = []string{"ES256", "ES384", "ES512"}
	case ed25519.PublicKey:
		methods = []string{"EdDSA"}
	default:
		return nil, fmt.Errorf("--jwt-public-key-file %s: key type %T is not RSA, ECDSA or Ed25519", o.PublicKeyFile, key)
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithExpirationRequired(), jwt.WithLeeway(Leeway), jwt.WithIssuedAt()}
	if o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(o.Issuer))
	}
	if o.Audience != "" {
		opts = append(opts, jwt.WithAudience(o.Audience))
	}
	return &JWT{key: key, parser: jwt.NewParser(opts...)}, nil
}

// Authenticate verifies the bearer token of the authorization header and
// returns its subject.
func (j *JWT) Authenticate(_ context.Context, md metadata.MD) (string, error) {
	v := md.Get("authorization")
	if len(v) == 0 {
		return "", status.Error(codes.Unauthenticated, "no identity: send Authorization: Bearer <token>")
	}
	raw, ok := strings.CutPrefix(v[0], "Bearer ")
	if !ok || raw == "" {
		return "", status.Error(codes.Unauthenticated, "the Authorization header must be Bearer <token>")
	}
	var claims jwt.RegisteredClaims
	if _, err := j.parser.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return j.key, nil }); err != nil {
		return "", status.Errorf(codes.Unauthenticated, "token refused: %v", err)
	}
	if claims.Subject == "" {
		return "", status.Error(codes.Unauthenticated, "token refused: it has no subject (sub), the caller's account")
	}
	return claims.Subject, nil
}
