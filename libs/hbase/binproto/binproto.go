// Package binproto is Thrift's TBinaryProtocol with a cheaper ReadBinary.
// The library's (0.17) copies every binary field through a growing
// bytes.Buffer of at least 512 bytes; a read-store page has hundreds of
// small binary fields (rows, families, qualifiers, values), and that copy
// was most of the client's CPU. This one reads each field into a buffer of
// its exact size, after the same size check.
package binproto

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/thrift/lib/go/thrift"
)

// Protocol is a TBinaryProtocol whose ReadBinary allocates once.
type Protocol struct {
	*thrift.TBinaryProtocol
	trans thrift.TTransport
	max   int32
}

// New wraps trans, with conf's limits.
func New(trans thrift.TTransport, conf *thrift.TConfiguration) *Protocol {
	return &Protocol{TBinaryProtocol: thrift.NewTBinaryProtocolConf(trans, conf), trans: trans, max: conf.GetMaxMessageSize()}
}

// ReadBinary reads a binary field into a buffer of its exact size, after
// checking the size against the configured maximum.
func (p *Protocol) ReadBinary(ctx context.Context) ([]byte, error) {
	size, err := p.ReadI32(ctx)
	if err != nil {
		return nil, err
	}
	if size < 0 || size > p.max {
		return nil, thrift.NewTProtocolExceptionWithType(thrift.SIZE_LIMIT,
			fmt.Errorf("binary field of %d bytes is outside 0..%d", size, p.max))
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(p.trans, buf); err != nil {
		return nil, thrift.NewTProtocolException(err)
	}
	return buf, nil
}

// Factory makes Protocols, for servers.
type Factory struct{ Conf *thrift.TConfiguration }

// GetProtocol implements thrift.TProtocolFactory.
func (f Factory) GetProtocol(trans thrift.TTransport) thrift.TProtocol { return New(trans, f.Conf) }
