package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// JWTOptions configure the production authenticator. The issuer's keys
// come from exactly one of PublicKeyFile, JWKSFile and JWKSURL.
type JWTOptions struct {
	// PublicKeyFile is a PEM file with the issuer's public key (RSA, ECDSA
	// or Ed25519); it is read again when it changes.
	PublicKeyFile string
	// JWKSFile is a JWKS document on disk (a mounted Secret), read again
	// when it changes; tokens pick their key by kid.
	JWKSFile string
	// JWKSURL is the issuer's JWKS endpoint (https; http only on loopback),
	// cached for JWKSRefresh and fetched again early when a token names an
	// unknown kid (a rotation).
	JWKSURL     string
	JWKSRefresh time.Duration
	// Issuer and Audience must match the token's iss and aud; both are
	// required.
	Issuer   string
	Audience string
	// MaxLifetime bounds exp - iat: a token valid for longer is refused,
	// however it was signed.
	MaxLifetime time.Duration
}

// Leeway is the clock skew tolerated on exp, nbf and iat.
const Leeway = 30 * time.Second

// DefaultMaxTokenLifetime is the longest a token may be valid for unless
// configured otherwise.
const DefaultMaxTokenLifetime = 24 * time.Hour

// JWT trusts `Authorization: Bearer <token>`: a token signed by one of the
// issuer's keys (chosen by kid), from the configured issuer for this
// audience, with an expiry no further than MaxLifetime after its issue,
// whose subject is the account.
type JWT struct {
	keys        keySource
	parser      *jwt.Parser
	maxLifetime time.Duration
}

// NewJWT checks the options and loads the keys once, so that a wrong file
// fails at start (a JWKS URL is fetched on first use).
func NewJWT(ctx context.Context, o JWTOptions) (*JWT, error) {
	sources := 0
	for _, s := range []string{o.PublicKeyFile, o.JWKSFile, o.JWKSURL} {
		if s != "" {
			sources++
		}
	}
	switch {
	case sources != 1:
		return nil, errors.New("--auth=jwt needs exactly one of --jwt-public-key-file, --jwt-jwks-file and --jwt-jwks-url (the token issuer's keys)")
	case o.Issuer == "":
		return nil, errors.New("--auth=jwt needs --jwt-issuer: tokens of any other issuer are refused")
	case o.Audience == "":
		return nil, errors.New("--auth=jwt needs --jwt-audience: tokens for any other audience are refused")
	}
	if o.MaxLifetime <= 0 {
		o.MaxLifetime = DefaultMaxTokenLifetime
	}
	if o.JWKSRefresh <= 0 {
		o.JWKSRefresh = 5 * time.Minute
	}
	var src keySource
	switch {
	case o.PublicKeyFile != "":
		src = &fileKeys{path: o.PublicKeyFile, parse: parsePEM, checkEvery: 5 * time.Second}
	case o.JWKSFile != "":
		src = &fileKeys{path: o.JWKSFile, parse: parseJWKS, checkEvery: 5 * time.Second}
	default:
		u, err := url.Parse(o.JWKSURL)
		if err != nil || u.Host == "" || u.Scheme != "https" && (u.Scheme != "http" || !isLoopback(u.Hostname())) {
			return nil, fmt.Errorf("--jwt-jwks-url=%q: want an https URL (http only on loopback)", o.JWKSURL)
		}
		src = &urlKeys{url: o.JWKSURL, client: &http.Client{Timeout: 5 * time.Second}, maxAge: o.JWKSRefresh, minRefresh: 10 * time.Second}
	}
	if o.JWKSURL == "" {
		if _, err := src.keys(ctx); err != nil {
			return nil, err
		}
	}
	methods := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(Leeway),
		jwt.WithIssuer(o.Issuer), jwt.WithAudience(o.Audience)}
	return &JWT{keys: src, parser: jwt.NewParser(opts...), maxLifetime: o.MaxLifetime}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Authenticate verifies the bearer token of the authorization header and
// returns its subject.
func (j *JWT) Authenticate(ctx context.Context, md metadata.MD) (string, error) {
	v := md.Get("authorization")
	if len(v) == 0 {
		return "", status.Error(codes.Unauthenticated, "no identity: send Authorization: Bearer <token>")
	}
	scheme, raw, ok := strings.Cut(v[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(raw) == "" {
		return "", status.Error(codes.Unauthenticated, "the Authorization header must be Bearer <token>")
	}
	var claims jwt.RegisteredClaims
	_, err := j.parser.ParseWithClaims(strings.TrimSpace(raw), &claims, func(t *jwt.Token) (any, error) { return j.key(ctx, t) })
	if err != nil {
		return "", status.Errorf(codes.Unauthenticated, "token refused: %v", reason(err))
	}
	if claims.IssuedAt == nil {
		return "", status.Error(codes.Unauthenticated, "token refused: it has no issue time (iat)")
	}
	if life := claims.ExpiresAt.Sub(claims.IssuedAt.Time); life > j.maxLifetime {
		return "", status.Errorf(codes.Unauthenticated, "token refused: it is valid for %s, longer than the %s allowed", life.Round(time.Second), j.maxLifetime)
	}
	if claims.Subject == "" {
		return "", status.Error(codes.Unauthenticated, "token refused: it has no subject (sub), the caller's account")
	}
	return claims.Subject, nil
}

// key returns the key a token names (by kid; a token without a kid may use
// the only key, or the key without an id), of the family its alg belongs
// to; an unknown kid makes the keys be asked for again once.
func (j *JWT) key(ctx context.Context, t *jwt.Token) (crypto.PublicKey, error) {
	kid, _ := t.Header["kid"].(string)
	set, err := j.keys.keys(ctx)
	if err != nil {
		return nil, err
	}
	k, ok := pick(set, kid)
	if !ok {
		if set, err = j.keys.refresh(ctx); err != nil {
			return nil, err
		}
		if k, ok = pick(set, kid); !ok {
			return nil, fmt.Errorf("no key with kid %q", kid)
		}
	}
	alg := t.Method.Alg()
	switch k.(type) {
	case *rsa.PublicKey:
		ok = strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		ok = strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		ok = alg == "EdDSA"
	default:
		ok = false
	}
	if !ok {
		return nil, fmt.Errorf("algorithm %s does not match the key %q", alg, kid)
	}
	return k, nil
}

func pick(set keySet, kid string) (crypto.PublicKey, bool) {
	if k, ok := set[kid]; ok {
		return k, true
	}
	if kid == "" && len(set) == 1 {
		for _, k := range set {
			return k, true
		}
	}
	return nil, false
}

// reason is the part of a token error a client may see: which check
// failed, not the library's wording of its internals.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "it has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "it is not valid yet"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "a required claim (exp) is missing"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "it is from another issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "it is for another audience"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "its signature does not verify with the issuer's keys"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "it is not a well-formed JWT"
	}
	return "it does not verify"
}
