package pebblestore

import (
	"bytes"
	"errors"
	"testing"
)

func TestSplitKeyFindsRowAndColumn(t *testing.T) {
	cases := []struct {
		name        string
		row, column []byte
	}{
		{"plain", []byte("01JD0000000000000000000001/00000000000000000042"), []byte("body")},
		{"empty column", []byte("r"), nil},
		{"column with separator bytes", []byte("r"), []byte{0x00, 0x01, 0xFF, 0x00}},
		{"row with 0x00 bytes", []byte{'a', 0x00, 'b', 0x00}, []byte("c")},
		{"row of 0x00, 0x01 and 0xFF", []byte{0x00, 0x01, 0xFF, 0x00, 0xFF}, []byte("c")},
		{"empty row", nil, []byte("c")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := append(appendRowStart(nil, "messages", c.row), c.column...)
			row, column, err := splitKey("messages", key)
			if err != nil || !bytes.Equal(row, c.row) || !bytes.Equal(column, c.column) {
				t.Fatalf("splitKey(%x) = %x, %x, %v; want %x, %x", key, row, column, err, c.row, c.column)
			}
		})
	}
	for _, key := range [][]byte{
		[]byte("tmes"),                            // shorter than the table's prefix
		append(tableStart("messages"), "row"...),  // no separator
		append(tableStart("messages"), 'r', 0x00), // a 0x00 ending the key
		append(tableStart("messages"), 'r', 0x00, 0x02, 'c'),
	} {
		if row, column, err := splitKey("messages", key); err == nil {
			t.Errorf("splitKey(%x) = %x, %x; want an error for a corrupt key", key, row, column)
		}
	}
}

// FuzzSplitKey holds splitKey to the byte-by-byte search it replaced, and
// to the keys appendRowStart makes.
func FuzzSplitKey(f *testing.F) {
	f.Add([]byte("row"), []byte("col"), []byte{})
	f.Add([]byte{0x00, 0xFF}, []byte{0x00, 0x01}, []byte{0x00})
	f.Fuzz(func(t *testing.T, row, column, raw []byte) {
		key := append(appendRowStart(nil, "t1", row), column...)
		gotRow, gotColumn, err := splitKey("t1", key)
		if err != nil || !bytes.Equal(gotRow, row) || !bytes.Equal(gotColumn, column) {
			t.Fatalf("splitKey(%x) = %x, %x, %v; want %x, %x", key, gotRow, gotColumn, err, row, column)
		}
		any := append(tableStart("t1"), raw...)
		r1, c1, err1 := splitKey("t1", any)
		r2, c2, err2 := splitKeyByteByByte("t1", any)
		if (err1 == nil) != (err2 == nil) || !bytes.Equal(r1, r2) || !bytes.Equal(c1, c2) {
			t.Fatalf("splitKey(%x) = %x, %x, %v; the byte-by-byte search gave %x, %x, %v", any, r1, c1, err1, r2, c2, err2)
		}
	})
}

// splitKeyByteByByte is splitKey as it was, a byte at a time: the reference.
func splitKeyByteByByte(table string, key []byte) (row, column []byte, err error) {
	rest := key[len(tableStart(table)):]
	for i := 0; i+1 < len(rest); i++ {
		if rest[i] != 0x00 {
			continue
		}
		switch rest[i+1] {
		case 0x01:
			return rest[:i], rest[i+2:], nil
		case 0xFF:
			return unescapeRow(table, key, rest)
		}
	}
	return nil, nil, errors.New("corrupt cell key")
}

func BenchmarkSplitKey(b *testing.B) {
	key := append(appendRowStart(nil, "messages", []byte("01JD0000000000000000000001/00000000000000000042")), "author"...)
	for _, f := range []struct {
		name  string
		split func(string, []byte) ([]byte, []byte, error)
	}{{"IndexByte", splitKey}, {"ByteByByte", splitKeyByteByByte}} {
		b.Run(f.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := f.split("messages", key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
