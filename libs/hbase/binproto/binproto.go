// Package binproto is Thrift's TBinaryProtocol that trusts no declared size.
//
// A binary field, a string, a list, a set or a map declares its length
// before its content. The library (0.17) checks the length against the
// message size limit only, and the code generated from the IDL then
// allocates for it (make([]T, 0, size)) before a byte of the content has
// arrived: a few bytes could make a server allocate hundreds of megabytes.
// Here every declared length is first backed by what actually arrived: the
// protocol reads ahead, in chunks, until the content (or, for collections,
// the least it can take: one byte per element of a struct, four of an i32,
// ...) is there, and only then lets the caller allocate. A peer must send
// as much as it makes us hold.
//
// It also reads a binary field into a buffer of its exact size: the
// library copies every one through a growing bytes.Buffer of at least 512
// bytes, which was most of the client's CPU on read-store pages.
package binproto

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/thrift/lib/go/thrift"
)

// Limits of a connection's messages, for servers and clients alike.
const (
	// MaxMessageSize bounds one message: a read-store page or a batch of
	// mutations is far smaller.
	MaxMessageSize = 64 << 20
	// MaxFrameSize bounds a frame of the framed transport.
	MaxFrameSize = MaxMessageSize
	// chunk is how much more is read ahead at a time.
	chunk = 64 << 10
)

// Protocol is a TBinaryProtocol over a read-ahead buffer.
type Protocol struct {
	*thrift.TBinaryProtocol
	in *readAhead
}

// New wraps trans, with conf's limits.
func New(trans thrift.TTransport, conf *thrift.TConfiguration) *Protocol {
	in := &readAhead{TTransport: trans, max: int(conf.GetMaxMessageSize())}
	return &Protocol{TBinaryProtocol: thrift.NewTBinaryProtocolConf(in, conf), in: in}
}

// sizeError is the protocol error for a declared length out of bounds.
func sizeError(what string, n, limit int) error {
	return thrift.NewTProtocolExceptionWithType(thrift.SIZE_LIMIT, fmt.Errorf("%s of %d is outside 0..%d", what, n, limit))
}

// ReadBinary reads a binary field into a buffer of its exact size, once
// its bytes have arrived.
func (p *Protocol) ReadBinary(ctx context.Context) ([]byte, error) {
	size, err := p.ReadI32(ctx)
	if err != nil {
		return nil, err
	}
	if size < 0 || int(size) > p.in.max {
		return nil, sizeError("binary field", int(size), p.in.max)
	}
	b, err := p.in.take(int(size))
	if err != nil {
		return nil, thrift.NewTProtocolException(err)
	}
	return append(make([]byte, 0, size), b...), nil
}

// ReadString reads a string once its bytes have arrived.
func (p *Protocol) ReadString(ctx context.Context) (string, error) {
	size, err := p.ReadI32(ctx)
	if err != nil {
		return "", err
	}
	if size < 0 || int(size) > p.in.max {
		return "", sizeError("string", int(size), p.in.max)
	}
	b, err := p.in.take(int(size))
	if err != nil {
		return "", thrift.NewTProtocolException(err)
	}
	return string(b), nil
}

// ReadListBegin returns a list's declared length once that many elements
// could have arrived.
func (p *Protocol) ReadListBegin(ctx context.Context) (thrift.TType, int, error) {
	t, n, err := p.TBinaryProtocol.ReadListBegin(ctx)
	if err != nil {
		return t, n, err
	}
	return t, n, p.backed("list", n, minSize(t))
}

// ReadSetBegin is ReadListBegin for sets.
func (p *Protocol) ReadSetBegin(ctx context.Context) (thrift.TType, int, error) {
	t, n, err := p.TBinaryProtocol.ReadSetBegin(ctx)
	if err != nil {
		return t, n, err
	}
	return t, n, p.backed("set", n, minSize(t))
}

// ReadMapBegin is ReadListBegin for maps.
func (p *Protocol) ReadMapBegin(ctx context.Context) (thrift.TType, thrift.TType, int, error) {
	k, v, n, err := p.TBinaryProtocol.ReadMapBegin(ctx)
	if err != nil {
		return k, v, n, err
	}
	return k, v, n, p.backed("map", n, minSize(k)+minSize(v))
}

// backed waits until n elements of at least each bytes could be there.
func (p *Protocol) backed(what string, n, each int) error {
	if n < 0 || n > p.in.max/each {
		return sizeError(what+" length", n, p.in.max/each)
	}
	if err := p.in.ensure(n * each); err != nil {
		return thrift.NewTProtocolException(err)
	}
	return nil
}

// minSize is the fewest bytes an element of type t takes on the wire.
func minSize(t thrift.TType) int {
	switch t {
	case thrift.I16:
		return 2
	case thrift.I32, thrift.STRING:
		return 4
	case thrift.I64, thrift.DOUBLE:
		return 8
	case thrift.LIST, thrift.SET:
		return 5
	case thrift.MAP:
		return 6
	default: // BOOL, BYTE, STRUCT (its stop byte)
		return 1
	}
}

// Factory makes Protocols, for servers.
type Factory struct{ Conf *thrift.TConfiguration }

// GetProtocol implements thrift.TProtocolFactory.
func (f Factory) GetProtocol(trans thrift.TTransport) thrift.TProtocol { return New(trans, f.Conf) }

// readAhead is a transport whose reads come from a buffer it fills from the
// underlying transport in chunks, as far ahead as a declared length needs.
type readAhead struct {
	thrift.TTransport
	max int
	buf []byte
	off int
}

var errTooLarge = errors.New("declared length is larger than a message may be")

// ensure reads until n bytes are buffered, growing the buffer only as the
// bytes arrive.
func (r *readAhead) ensure(n int) error {
	if n > r.max {
		return errTooLarge
	}
	if len(r.buf)-r.off >= n {
		return nil
	}
	if r.off > 0 { // keep only what is unread
		r.buf = append(r.buf[:0], r.buf[r.off:]...)
		r.off = 0
	}
	for len(r.buf) < n {
		if cap(r.buf) == len(r.buf) {
			grown := make([]byte, len(r.buf), len(r.buf)+min(max(len(r.buf), chunk), n-len(r.buf)+chunk))
			copy(grown, r.buf)
			r.buf = grown
		}
		m, err := r.TTransport.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+m]
		if err != nil && len(r.buf) < n {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// take returns the next n bytes, valid until the next read.
func (r *readAhead) take(n int) ([]byte, error) {
	if err := r.ensure(n); err != nil {
		return nil, err
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	r.release()
	return b, nil
}

// release drops a large buffer once it is all read, so that an idle
// connection does not keep one message's worth of memory.
func (r *readAhead) release() {
	if r.off == len(r.buf) {
		r.off = 0
		if cap(r.buf) > 4*chunk {
			r.buf = nil
		} else {
			r.buf = r.buf[:0]
		}
	}
}

// Read serves buffered bytes first.
func (r *readAhead) Read(p []byte) (int, error) {
	if r.off < len(r.buf) {
		n := copy(p, r.buf[r.off:])
		r.off += n
		r.release()
		return n, nil
	}
	return r.TTransport.Read(p)
}

// RemainingBytes is the underlying transport's, plus what is buffered.
func (r *readAhead) RemainingBytes() uint64 {
	rem := r.TTransport.RemainingBytes()
	if rem == ^uint64(0) {
		return rem
	}
	return rem + uint64(len(r.buf)-r.off)
}
