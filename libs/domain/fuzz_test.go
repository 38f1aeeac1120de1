package domain

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCanonicalULID: an id that passes has one canonical spelling, which
// passes ValidateULID and canonicalizes to itself; any other refusal is a
// clear error, never a panic.
func FuzzCanonicalULID(f *testing.F) {
	for _, s := range []string{"01JD0000000000000000000001", "01jd0000000000000000000001", "", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "01JD000000000000000000000I", "01JD00000000000000000000U1", "0000000000000000000000000\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := CanonicalULID("id", s)
		if err != nil {
			if len(err.Error()) > 200 {
				t.Fatalf("an error of %d bytes echoes the input: %v", len(err.Error()), err)
			}
			return
		}
		if !strings.EqualFold(c, s) && len(c) != len(s) {
			t.Fatalf("%q canonicalizes to %q, another id", s, c)
		}
		if err := ValidateULID("id", c); err != nil {
			t.Fatalf("canonical %q does not validate: %v", c, err)
		}
		if again, _ := CanonicalULID("id", c); again != c {
			t.Fatalf("canonical %q canonicalizes to %q", c, again)
		}
	})
}

// FuzzAccountID: an accepted account id is 1–128 bytes of the allowed
// characters; refusals never echo more than a short quote.
func FuzzAccountID(f *testing.F) {
	for _, s := range []string{"alice", "a.b-c_d@e:f", "", "<script>", "with space", strings.Repeat("a", 129), "ali\u202ece", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateAccountID("account", s)
		if err != nil {
			if len(err.Error()) > 200 {
				t.Fatalf("an error of %d bytes echoes the input", len(err.Error()))
			}
			return
		}
		if len(s) == 0 || len(s) > MaxAccountIDBytes {
			t.Fatalf("accepted an account id of %d bytes", len(s))
		}
		for _, r := range s {
			if !accountRune(r) {
				t.Fatalf("accepted %q with %q", s, r)
			}
		}
	})
}

// FuzzTextRules: text a command accepts is valid UTF-8 within its limit,
// has something visible, and carries no control character but newline and
// tab and no bidirectional override.
func FuzzTextRules(f *testing.F) {
	for _, s := range []string{"hello", "line\nbreak\ttab", "", " \u200b ", "\x00", "a\u202eb", "\xff\xfe", "界"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := validateText("body", s, true, MaxBodyRunes); err != nil {
			return
		}
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxBodyRunes {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range s {
			if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 || r >= 0x202a && r <= 0x202e {
				t.Fatalf("accepted %q with %U", s, r)
			}
		}
		if strings.TrimSpace(s) == "" {
			t.Fatalf("accepted blank %q", s)
		}
	})
}
