package eventlog

import "google.golang.org/protobuf/encoding/protowire"

// Some records are encoded by hand rather than through generated messages
// (a posted message's envelope, an imported run, a snapshot's indexed
// messages): each is a function of fields written to a wire, run once to
// size it and once to write it.

// wire writes protobuf fields, or only counts their bytes: the same code
// sizes a message and then writes it.
type wire struct {
	b      []byte
	n      int
	sizing bool
}

func (w *wire) str(num protowire.Number, s string) {
	if s == "" {
		return
	}
	w.bytesField(num, s)
}

// bytesField writes s even when empty (an element of a repeated field).
func (w *wire) bytesField(num protowire.Number, s string) {
	if w.sizing {
		w.n += protowire.SizeTag(num) + protowire.SizeBytes(len(s))
		return
	}
	w.b = protowire.AppendTag(w.b, num, protowire.BytesType)
	w.b = protowire.AppendString(w.b, s)
}

func (w *wire) uvarint(num protowire.Number, v uint64) {
	if v == 0 {
		return
	}
	if w.sizing {
		w.n += protowire.SizeTag(num) + protowire.SizeVarint(v)
		return
	}
	w.b = protowire.AppendTag(w.b, num, protowire.VarintType)
	w.b = protowire.AppendVarint(w.b, v)
}

// header writes the tag and length of a message field of size bytes,
// present even when empty; its fields follow.
func (w *wire) header(num protowire.Number, size int) {
	if w.sizing {
		w.n += protowire.SizeTag(num) + protowire.SizeBytes(size)
		return
	}
	w.b = protowire.AppendTag(w.b, num, protowire.BytesType)
	w.b = protowire.AppendVarint(w.b, uint64(size))
}
