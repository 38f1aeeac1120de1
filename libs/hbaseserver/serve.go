package hbaseserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/falcon-chat/falcon/libs/connlimit"
	"github.com/falcon-chat/falcon/libs/hbase/binproto"
	"github.com/falcon-chat/falcon/libs/hbase/gen/hbase"
)

// Options are how Serve serves: the transport and the limits on clients.
type Options struct {
	// Framed is the framed transport (the HBase gateway's -f); else
	// buffered.
	Framed bool
	// MaxConnections is the most connections held at once; more wait to
	// be accepted.
	MaxConnections int
	// IdleTimeout closes a connection with no request for this long.
	IdleTimeout time.Duration
	// RequestTimeout bounds reading a request, from its first byte, and
	// writing its answer: a request trickled byte by byte cannot hold a
	// connection.
	RequestTimeout time.Duration
	// TLS, when not nil, is the only way clients connect.
	TLS *tls.Config
}

// Default limits of Options left zero.
const (
	DefaultMaxConnections = 512
	DefaultIdleTimeout    = 10 * time.Minute
	DefaultRequestTimeout = 30 * time.Second
)

func (o Options) orDefaults() Options {
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	return o
}

// Serve answers THBaseService on addr (TBinaryProtocol) until ctx ends,
// then closes every connection. It returns at once if it cannot listen.
// No declared size is trusted (binproto), messages and frames are bounded,
// and so are connections and the time a request may take.
//
// It runs its own accept loop rather than thrift's TSimpleServer, whose Stop
// waits for clients to hang up: pooled client connections never do.
func Serve(ctx context.Context, addr string, h *Handler, o Options) error {
	o = o.orDefaults()
	raw, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for thrift2 on %s: %w", addr, err)
	}
	l := connlimit.New(o.MaxConnections).Wrap(raw)
	if o.TLS != nil {
		l = tls.NewListener(l, o.TLS)
	}
	proc := hbase.NewTHBaseServiceProcessor(h)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
	)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(ScannerIdleTimeout / 2)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				h.expireScanners(now)
			case <-ctx.Done():
				_ = l.Close()
				mu.Lock()
				for c := range conns {
					_ = c.Close()
				}
				mu.Unlock()
				return
			}
		}
	}()
	var acceptErr error
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() == nil {
				acceptErr = fmt.Errorf("thrift2 server on %s: %w", addr, err)
			}
			break
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveConn(ctx, c, proc, o)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			_ = c.Close()
		}()
	}
	cancel() // an accept error stops the rest too
	<-stopped
	wg.Wait()
	return acceptErr
}

// serveConn processes one client's calls until it hangs up, idles too
// long, takes too long over a request, or the connection is closed.
func serveConn(ctx context.Context, c net.Conn, proc thrift.TProcessor, o Options) {
	conf := &thrift.TConfiguration{MaxMessageSize: binproto.MaxMessageSize, MaxFrameSize: binproto.MaxFrameSize}
	dc := &deadlineConn{Conn: c, requestTimeout: o.RequestTimeout}
	var trans thrift.TTransport = thrift.NewTSocketFromConnConf(dc, conf)
	if o.Framed {
		trans = thrift.NewTFramedTransportConf(trans, conf)
	} else {
		trans = thrift.NewTBufferedTransport(trans, 64<<10)
	}
	prot := binproto.New(trans, conf)
	for ctx.Err() == nil {
		dc.awaitRequest(o.IdleTimeout)
		ok, err := proc.Process(ctx, prot, prot)
		var terr thrift.TTransportException
		if errors.As(err, &terr) || !ok {
			return
		}
	}
}

// deadlineConn bounds a connection's time: up to the idle timeout for a
// request to begin, then the request timeout, from its first byte, to read
// it and write the answer. The deadlines are absolute: a client sending a
// byte at a time does not extend them.
type deadlineConn struct {
	net.Conn
	requestTimeout time.Duration
	waiting        bool
}

func (c *deadlineConn) awaitRequest(idle time.Duration) {
	c.waiting = true
	_ = c.Conn.SetDeadline(time.Now().Add(idle))
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.waiting {
		c.waiting = false
		_ = c.Conn.SetDeadline(time.Now().Add(c.requestTimeout))
	}
	return n, err
}

// The thrift socket sets (and, without a socket timeout, clears) deadlines
// around every read and write; only deadlineConn's own count.
func (c *deadlineConn) SetDeadline(time.Time) error      { return nil }
func (c *deadlineConn) SetReadDeadline(time.Time) error  { return nil }
func (c *deadlineConn) SetWriteDeadline(time.Time) error { return nil }
