package readapi

import (
	"encoding/base64"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FuzzMessageToken: a page token either decodes to a direction and a
// canonical message id, which encode back to a token decoding the same, or
// is refused as InvalidArgument on page_token.
func FuzzMessageToken(f *testing.F) {
	for _, s := range []string{encodeMessageToken(true, "01JD0000000000000000000001"), encodeMessageToken(false, "01JD0000000000000000000001"),
		"", "bjAxamQ", base64.RawURLEncoding.EncodeToString([]byte("x01JD0000000000000000000001")), "!!!", "b" + "==",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		newest, after, err := decodeMessageToken(tok)
		if err != nil {
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("token %q: %v, want InvalidArgument", tok, err)
			}
			return
		}
		n2, a2, err := decodeMessageToken(encodeMessageToken(newest, after))
		if err != nil || n2 != newest || a2 != after {
			t.Fatalf("token %q decodes to (%v, %q), which does not round-trip: (%v, %q, %v)", tok, newest, after, n2, a2, err)
		}
	})
}
