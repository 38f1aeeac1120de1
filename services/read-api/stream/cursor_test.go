package stream

import (
	"encoding/base64"
	"encoding/binary"
	"slices"
	"testing"
)

// TestCursorOfVersionOneIsReadAsRecordStarts: a cursor given before
// records held runs of events (offsets, version 1) resumes at the start of
// the same records.
func TestCursorOfVersionOneIsReadAsRecordStarts(t *testing.T) {
	offsets := []int64{0, 7, 1 << 40}
	b := []byte{1}
	b = binary.AppendUvarint(b, uint64(len(offsets)))
	for _, o := range offsets {
		b = binary.AppendUvarint(b, uint64(o))
	}
	b = binary.BigEndian.AppendUint64(b, cursorSum("alice", b))
	got, err := DecodeCursor("alice", base64.RawURLEncoding.EncodeToString(b))
	want := Cursor{position(0, 0), position(7, 0), position(1<<40, 0)}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("decoded %v, %v; want %v", got, err, want)
	}
	if c, err := DecodeCursor("alice", got.Encode("alice")); err != nil || !slices.Equal(c, want) {
		t.Fatalf("encoded again, it decodes to %v, %v", c, err)
	}
}
