package domain

import (
	"strings"
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

// ValidateULID checks an id field (thread, message, request id).
func ValidateULID(field, id string) error {
	if id == "" {
		return invalid(field, "is required")
	}
	if len(id) != ulid.EncodedSize {
		return invalid(field, "%q is not a ULID (26 characters of Crockford base32)", id)
	}
	if _, err := ulid.ParseStrict(id); err != nil {
		return invalid(field, "%q is not a ULID: %v", id, err)
	}
	return nil
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
			return invalid(field, "account id %q may contain only ASCII letters, digits and - _ . @ :", id)
		}
	}
	return nil
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

func validateText(field, s string, required bool, max int) error {
	if !utf8.ValidString(s) {
		return invalid(field, "is not valid UTF-8")
	}
	if required && strings.TrimSpace(s) == "" {
		return invalid(field, "is required and must not be blank")
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
