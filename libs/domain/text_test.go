package domain

import (
	"errors"
	"strings"
	"testing"
)

// TestTextRefusesWhatDisplaysOtherThanItReads: control characters, bidi
// overrides and invisible-only text are refused where the attacker's
// message would otherwise be accepted as sent.
func TestTextRefusesWhatDisplaysOtherThanItReads(t *testing.T) {
	cases := []struct {
		name, body string
		wantErr    string // "" accepted
	}{
		{"plain", "hello", ""},
		{"newlines and tabs", "line one\n\tline two", ""},
		{"emoji and CJK", "こんにちは 👋", ""},
		{"right-to-left text", "שלום עולם", ""},
		{"a zero-width joiner inside an emoji", "👩\u200d💻", ""},
		{"NUL", "a\x00b", "control character U+0000"},
		{"carriage return", "a\rb", "control character U+000D"},
		{"escape", "\x1b[31mred", "control character U+001B"},
		{"DEL", "a\x7fb", "control character U+007F"},
		{"C1 control", "a\u0085b", "control character U+0085"},
		{"right-to-left override", "invoice\u202Efdp.exe", "bidirectional override U+202E"},
		{"left-to-right embedding", "\u202Aabc", "bidirectional override U+202A"},
		{"zero-width spaces only", "\u200b\u200b", "must not be blank"},
		{"byte order mark and spaces", "\ufeff  \u2060", "must not be blank"},
		{"spaces only", " \t\n ", "must not be blank"},
		{"invalid UTF-8", "a\xffb", "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := standard(t)
			_, err := f.do("bob", PostMessage{Body: c.body})
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var de *Error
			if !errors.As(err, &de) || de.Kind != Invalid || de.Field != "body" || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("got %v, want InvalidArgument on body saying %q", err, c.wantErr)
			}
		})
	}
}

// TestOneIDOneSpelling: a lower-case ULID names the same thread as its
// upper-case form; the domain takes only the canonical form, the edges
// canonicalize.
func TestOneIDOneSpelling(t *testing.T) {
	upper := id(7)
	lower := strings.ToLower(upper)
	if got, err := CanonicalULID("thread_id", lower); err != nil || got != upper {
		t.Fatalf("CanonicalULID(%s) = %s, %v; want %s", lower, got, err, upper)
	}
	if err := ValidateULID("thread_id", lower); err == nil || !strings.Contains(err.Error(), "canonical") {
		t.Fatalf("ValidateULID took the lower-case spelling: %v", err)
	}
	if err := ValidateULID("thread_id", upper); err != nil {
		t.Fatal(err)
	}
}

// TestErrorsDoNotEchoLargeInput: an error names what was wrong without
// repeating a large or hostile value whole.
func TestErrorsDoNotEchoLargeInput(t *testing.T) {
	huge := strings.Repeat("<script>", 75000)
	for _, err := range []error{ValidateAccountID("actor", huge[:100]), ValidateULID("thread_id", huge)} {
		if err == nil || len(err.Error()) > 200 {
			t.Fatalf("error of %d bytes: %.300v", len(err.Error()), err)
		}
	}
}
