package domain

import (
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// Limits of the domain. They are part of the API contract: clients are told
// which one they broke.
const (
	MaxTitleRunes      = 200
	MaxRemarksRunes    = 2000
	MaxBodyRunes       = 10000
	MaxMembers         = 1000
	MaxAccountsPerCall = 100
	MaxMentions        = 50
	MaxAccountIDBytes  = 128
	// RecentRequests is how many request ids a thread remembers for
	// idempotent retries.
	RecentRequests = 256
	// MaxIndexedMessages is how many of a thread's most recent messages
	// can be replied to, edited or deleted. It bounds write-api's memory
	// per thread (docs/write-api-memory.md).
	MaxIndexedMessages = 10000
)

// ValidateULID checks an id field (thread, message, request id): a ULID in
// its canonical spelling, upper case (the transports canonicalize what
// clients send with CanonicalULID, so that one id never has two spellings).
func ValidateULID(field, id string) error {
	canonical, err := CanonicalULID(field, id)
	if err != nil {
		return err
	}
	if canonical != id {
		return invalid(field, "%s is not in canonical form (upper case): %s", quote(id), canonical)
	}
	return nil
}

// CanonicalULID checks an id and returns its canonical spelling: Crockford
// base32 is case-insensitive, and "01jd…" and "01JD…" are the same id.
func CanonicalULID(field, id string) (string, error) {
	if id == "" {
		return "", invalid(field, "is required")
	}
	if len(id) != ulid.EncodedSize {
		return "", invalid(field, "%s is not a ULID (26 characters of Crockford base32)", quote(id))
	}
	u, err := ulid.ParseStrict(id)
	if err != nil {
		return "", invalid(field, "%s is not a ULID: %v", quote(id), err)
	}
	return u.String(), nil
}

// ValidateAccountID checks one account id. Accounts are opaque strings owned
// by the identity system; we only keep them printable and bounded.
func ValidateAccountID(field, id string) error {
	if id == "" {
		return invalid(field, "account id is empty")
	}
	if len(id) > MaxAccountIDBytes {
		return invalid(field, "account id is %d bytes, at most %d allowed", len(id), MaxAccountIDBytes)
	}
	for _, r := range id {
		if !accountRune(r) {
			return invalid(field, "account id %s may contain only ASCII letters, digits and - _ . @ :", quote(id))
		}
	}
	return nil
}

// quote shows a value a client sent in an error message: quoted, and cut
// short, so an error never echoes a large or hostile input whole.
func quote(s string) string {
	// The bound is on what is shown: escapes (\xa9, \u202e) take several
	// characters per byte of input.
	const max = 48
	if q := strconv.Quote(s); len(q) <= max {
		return q
	}
	cut := min(len(s), max)
	for {
		for cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if q := strconv.Quote(s[:cut]); len(q) <= max || cut == 0 {
			return q + "…"
		}
		cut--
	}
}

// accountSet validates ids and returns them without duplicates, in order.
func accountSet(field string, ids []string, max int) ([]string, error) {
	if len(ids) > max {
		return nil, invalid(field, "has %d accounts, at most %d allowed", len(ids), max)
	}
	seen := make(map[string]struct{}, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if err := ValidateAccountID(field, id); err != nil {
			return nil, err
		}
		if _, dup := seen[id]; dup {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out, nil
}

// Text rules, for titles, remarks and bodies (the API documents them):
// valid UTF-8; no control characters but newline and tab (C0, DEL, C1);
// no bidirectional embeddings or overrides (U+202A–U+202E), which make
// text display other than it reads; and required text is blank if nothing
// but white space and invisible format characters (zero-width spaces,
// joiners, byte order marks) remain.
func validateText(field, s string, required bool, max int) error {
	if !utf8.ValidString(s) {
		return invalid(field, "is not valid UTF-8")
	}
	visible := false
	for i, r := range s {
		switch {
		case r == '\n' || r == '\t':
		case r < 0x20 || r >= 0x7F && r < 0xA0:
			return invalid(field, "has a control character U+%04X at byte %d; only newline and tab are allowed", r, i)
		case r >= 0x202A && r <= 0x202E:
			return invalid(field, "has a bidirectional override U+%04X at byte %d, which makes text display other than it reads", r, i)
		case unicode.IsSpace(r) || unicode.Is(unicode.Cf, r):
		default:
			visible = true
		}
	}
	if required && !visible {
		return invalid(field, "is required and must not be blank (white space and invisible characters only)")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return invalid(field, "is %d characters, at most %d allowed", n, max)
	}
	return nil
}

func validateTitle(s string) error   { return validateText("title", s, true, MaxTitleRunes) }
func validateRemarks(s string) error { return validateText("remarks", s, false, MaxRemarksRunes) }
func validateBody(s string) error    { return validateText("body", s, true, MaxBodyRunes) }

// accountRune reports whether r may appear in an account id.
func accountRune(r rune) bool {
	switch r {
	case '-', '_', '.', '@', ':':
		return true
	}
	return r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))
}
