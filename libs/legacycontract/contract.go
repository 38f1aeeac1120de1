// Package legacycontract is the HTTP contract between sparrow-forwarder and
// the legacy system: the headers of a delivery and its HMAC-SHA256
// signature. The JSON payload is described in docs/legacy-payload.md.
package legacycontract

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SchemaVersion is the payload's schemaVersion. It changes only when a field
// changes meaning or goes away; added fields keep it.
const SchemaVersion = 1

// Headers of a delivery.
const (
	// HeaderIdempotencyKey carries the event id: the legacy side must
	// accept each key once.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderTimestamp is the Unix time, in seconds, the delivery was signed.
	HeaderTimestamp = "X-Falcon-Timestamp"
	// HeaderSignature is "v2=" and the hex HMAC-SHA256, keyed with the
	// shared secret, of the timestamp, ".", the idempotency key, ".", and
	// the body. The key is signed too: otherwise a captured delivery could
	// be sent again, within MaxSkew, under a new key and applied twice.
	HeaderSignature = "X-Falcon-Signature"
)

// MaxSkew is how far a delivery's timestamp may be from the receiver's clock
// before it is refused as a replay.
const MaxSkew = 5 * time.Minute

// signaturePrefix names the scheme: v2 signs the idempotency key; the first
// scheme ("sha256=", timestamp and body only) is no longer sent or accepted.
const signaturePrefix = "v2="

// Sign returns the timestamp and signature header values of a delivery of
// body under idempotency key, signed at ts.
func Sign(secret []byte, ts time.Time, key string, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	return timestamp, signaturePrefix + hex.EncodeToString(mac(secret, timestamp, key, body))
}

func mac(secret []byte, timestamp, key string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write([]byte(key))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrUnsigned     = errors.New("delivery is not signed")
	ErrBadSignature = errors.New("signature does not match the idempotency key and body")
	ErrStale        = errors.New("timestamp is too far from now (a replay?)")
)

// Verify checks a delivery's signature over its idempotency key and body,
// and that it was signed within MaxSkew of now.
func Verify(secret []byte, timestamp, signature, key string, body []byte, now time.Time) error {
	if timestamp == "" || signature == "" {
		return ErrUnsigned
	}
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not Unix seconds", ErrBadSignature, HeaderTimestamp, timestamp)
	}
	got, err := hex.DecodeString(strings.TrimPrefix(signature, signaturePrefix))
	if err != nil || !strings.HasPrefix(signature, signaturePrefix) {
		return fmt.Errorf("%w: %s must be %s<hex>", ErrBadSignature, HeaderSignature, signaturePrefix)
	}
	if !hmac.Equal(got, mac(secret, timestamp, key, body)) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(secs, 0)); d > MaxSkew || d < -MaxSkew {
		return fmt.Errorf("%w: signed %s ago", ErrStale, d.Round(time.Second))
	}
	return nil
}
