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
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed with the
	// shared secret, of the timestamp, ".", and the body.
	HeaderSignature = "X-Falcon-Signature"
)

// MaxSkew is how far a delivery's timestamp may be from the receiver's clock
// before it is refused as a replay.
const MaxSkew = 5 * time.Minute

// Sign returns the signature header value for body signed at ts.
func Sign(secret []byte, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	return timestamp, "sha256=" + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrUnsigned     = errors.New("delivery is not signed")
	ErrBadSignature = errors.New("signature does not match the body")
	ErrStale        = errors.New("timestamp is too far from now (a replay?)")
)

// Verify checks a delivery's signature and that it was signed within MaxSkew
// of now.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time) error {
	if timestamp == "" || signature == "" {
		return ErrUnsigned
	}
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not Unix seconds", ErrBadSignature, HeaderTimestamp, timestamp)
	}
	got, err := hex.DecodeString(strings.TrimPrefix(signature, "sha256="))
	if err != nil || !strings.HasPrefix(signature, "sha256=") {
		return fmt.Errorf("%w: %s must be sha256=<hex>", ErrBadSignature, HeaderSignature)
	}
	if !hmac.Equal(got, mac(secret, timestamp, body)) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(secs, 0)); d > MaxSkew || d < -MaxSkew {
		return fmt.Errorf("%w: signed %s ago", ErrStale, d.Round(time.Second))
	}
	return nil
}
