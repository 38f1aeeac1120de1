package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"sync"
	"time"
)

// keySet is the verification keys of the token issuer, by key id. A key
// without an id ("") is used for tokens without a kid.
type keySet map[string]crypto.PublicKey

// keySource gives the current keys, reloading them as their source says.
type keySource interface {
	keys(ctx context.Context) (keySet, error)
	// refresh asks for the keys again now (at most so often): a token names
	// a kid the set does not have, perhaps after a rotation.
	refresh(ctx context.Context) (keySet, error)
}

// fileKeys reads a PEM public key or a JWKS document from a file, and
// again whenever the file changes (checked at most every checkEvery).
type fileKeys struct {
	path       string
	parse      func([]byte) (keySet, error)
	checkEvery time.Duration

	mu      sync.Mutex
	set     keySet
	modTime time.Time
	checked time.Time
}

func (f *fileKeys) keys(context.Context) (keySet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.set != nil && time.Since(f.checked) < f.checkEvery {
		return f.set, nil
	}
	return f.loadLocked()
}

func (f *fileKeys) refresh(ctx context.Context) (keySet, error) { return f.keys(ctx) }

func (f *fileKeys) loadLocked() (keySet, error) {
	f.checked = time.Now()
	st, err := os.Stat(f.path)
	if err != nil {
		if f.set != nil {
			return f.set, nil // keep the last good keys while the file is replaced
		}
		return nil, fmt.Errorf("token keys %s: %w", f.path, err)
	}
	if f.set != nil && st.ModTime().Equal(f.modTime) {
		return f.set, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return nil, fmt.Errorf("token keys %s: %w", f.path, err)
	}
	set, err := f.parse(b)
	if err != nil {
		if f.set != nil {
			return f.set, nil
		}
		return nil, fmt.Errorf("token keys %s: %w", f.path, err)
	}
	f.set, f.modTime = set, st.ModTime()
	return set, nil
}

// urlKeys fetches a JWKS document over HTTPS (or HTTP on loopback, for
// tests), keeps it for maxAge and fetches it again early, at most every
// minRefresh, when a token names a kid it lacks.
type urlKeys struct {
	url        string
	client     *http.Client
	maxAge     time.Duration
	minRefresh time.Duration

	mu      sync.Mutex
	set     keySet
	fetched time.Time
}

func (u *urlKeys) keys(ctx context.Context) (keySet, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.set != nil && time.Since(u.fetched) < u.maxAge {
		return u.set, nil
	}
	return u.fetchLocked(ctx)
}

func (u *urlKeys) refresh(ctx context.Context) (keySet, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.set != nil && time.Since(u.fetched) < u.minRefresh {
		return u.set, nil
	}
	return u.fetchLocked(ctx)
}

func (u *urlKeys) fetchLocked(ctx context.Context) (keySet, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u.fetched = time.Now()
	set, err := u.fetch(ctx)
	if err != nil {
		if u.set != nil {
			return u.set, nil // the issuer is briefly away: keep the keys we have
		}
		return nil, err
	}
	u.set = set
	return set, nil
}

func (u *urlKeys) fetch(ctx context.Context) (keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.url, nil)
	if err != nil {
		return nil, fmt.Errorf("token keys %s: %w", u.url, err)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("token keys %s: %w", u.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("token keys %s: HTTP %d", u.url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("token keys %s: %w", u.url, err)
	}
	return parseJWKS(b)
}

// parsePEM reads one PEM public key (RSA, ECDSA or Ed25519), without a key
// id.
func parsePEM(b []byte) (keySet, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	switch key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return keySet{"": key}, nil
	}
	return nil, fmt.Errorf("key type %T is not RSA, ECDSA or Ed25519", key)
}

// jwk is one key of a JWKS document (RFC 7517, 7518, 8037).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS reads the signing keys of a JWKS document; keys for other uses
// and of other types are skipped.
func parseJWKS(b []byte) (keySet, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a JWKS document: %w", err)
	}
	set := keySet{}
	for i, k := range doc.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		key, err := k.publicKey()
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i, k.Kid, err)
		}
		if key == nil {
			continue
		}
		if _, dup := set[k.Kid]; dup {
			return nil, fmt.Errorf("two keys with kid %q", k.Kid)
		}
		set[k.Kid] = key
	}
	if len(set) == 0 {
		return nil, errors.New("the JWKS document has no signing key")
	}
	return set, nil
}

func (k jwk) publicKey() (crypto.PublicKey, error) {
	b64 := func(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
	switch k.Kty {
	case "RSA":
		n, err := b64(k.N)
		if err != nil {
			return nil, fmt.Errorf("n: %w", err)
		}
		e, err := b64(k.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("e: not a small base64url integer")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 {
			return nil, fmt.Errorf("an RSA key of %d bits is too short (2048 at least)", pub.N.BitLen())
		}
		return pub, nil
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("curve %q is not supported", k.Crv)
		}
		x, errX := b64(k.X)
		y, errY := b64(k.Y)
		if errX != nil || errY != nil {
			return nil, errors.New("x or y: not base64url")
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return nil, errors.New("x or y: wrong length for the curve")
		}
		// The uncompressed point form; the parser refuses a point off the
		// curve.
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("not a point on %s: %w", k.Crv, err)
		}
		return pub, nil
	case "OKP":
		if k.Crv != "Ed25519" {
			return nil, fmt.Errorf("curve %q is not supported", k.Crv)
		}
		x, err := b64(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("x: not an Ed25519 public key")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, nil // another key type: not ours to use
}
