package auth

import (
	"context"
	"testing"
)

func TestUnknownMode(t *testing.T) {
	if _, err := New(context.Background(), "basic", JWTOptions{}); err == nil {
		t.Fatal("an unknown auth mode was accepted")
	}
}
