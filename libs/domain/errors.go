package domain

import (
	"errors"
	"fmt"
)

// Kind classifies why a command was refused, so that transports can map it to
// their own codes (gRPC, HTTP) without knowing the rules.
type Kind int

const (
	// Invalid means the command itself is malformed: a bad id, an empty or
	// oversized field, a broken limit.
	Invalid Kind = iota + 1
	// Forbidden means the actor may not do this to this thread.
	Forbidden
	// NotFound means the thread or message does not exist.
	NotFound
	// Conflict means the command is well formed but the thread's state
	// refuses it (destroyed thread, last administrator).
	Conflict
	// AlreadyExists means the command collides with what exists: a thread
	// created again, a request id reused for a different request.
	AlreadyExists
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case Forbidden:
		return "forbidden"
	case NotFound:
		return "not found"
	case Conflict:
		return "conflict"
	case AlreadyExists:
		return "already exists"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a refused command. Field names the request field at fault, in the
// API's snake_case, when there is one.
type Error struct {
	Kind    Kind
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

func invalid(field, format string, args ...any) error {
	return &Error{Kind: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) error {
	return &Error{Kind: Forbidden, Message: fmt.Sprintf(format, args...)}
}

func notFound(field, format string, args ...any) error {
	return &Error{Kind: NotFound, Field: field, Message: fmt.Sprintf(format, args...)}
}

func alreadyExists(field, format string, args ...any) error {
	return &Error{Kind: AlreadyExists, Field: field, Message: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &Error{Kind: Conflict, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of a domain error anywhere in err's chain, or 0.
func KindOf(err error) Kind {
	var de *Error
	if errors.As(err, &de) {
		return de.Kind
	}
	return 0
}
