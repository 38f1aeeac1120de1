package hbaseserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/falcon-chat/falcon/libs/hbase/binproto"
	"github.com/falcon-chat/falcon/libs/hbase/gen/hbase"
)

// Serve answers THBaseService on addr (TBinaryProtocol; framed or buffered
// transport, as the HBase gateway's -f) until ctx ends, then closes every
// connection. It returns at once if it cannot listen.
//
// It runs its own accept loop rather than thrift's TSimpleServer, whose Stop
// waits for clients to hang up: pooled client connections never do.
func Serve(ctx context.Context, addr string, h *Handler, framed bool) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for thrift2 on %s: %w", addr, err)
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
			serveConn(ctx, c, proc, framed)
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

// serveConn processes one client's calls until it hangs up or the
// connection is closed.
func serveConn(ctx context.Context, c net.Conn, proc thrift.TProcessor, framed bool) {
	conf := &thrift.TConfiguration{}
	var trans thrift.TTransport = thrift.NewTSocketFromConnConf(c, conf)
	if framed {
		trans = thrift.NewTFramedTransportConf(trans, conf)
	} else {
		trans = thrift.NewTBufferedTransport(trans, 64<<10)
	}
	prot := binproto.New(trans, conf)
	for ctx.Err() == nil {
		ok, err := proc.Process(ctx, prot, prot)
		var terr thrift.TTransportException
		if errors.As(err, &terr) || !ok {
			return
		}
	}
}
