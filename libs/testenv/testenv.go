// Package testenv starts what integration tests need on loopback: the
// embedded broker, free ports, and clients that wait for a service.
package testenv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/falcon-chat/falcon/libs/broker"
	"github.com/falcon-chat/falcon/libs/hbaseserver"
	"github.com/falcon-chat/falcon/libs/pebblestore"
	"github.com/falcon-chat/falcon/libs/server"
)

// Broker starts an embedded broker for the test and stops it at cleanup.
func Broker(t testing.TB) string {
	t.Helper()
	b, err := broker.Start("", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addr()
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago and that FreeAddr has not returned before in this process.
//
// The port is below the kernel's ephemeral range: a port from bind(":0")
// can be taken, between the check and the server's own bind, by any
// process's outgoing connection, and can come back twice in a row; both
// made tests fail with "address already in use".
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := freePorts.take()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// freePorts is the process's record of the ports FreeAddr handed out: it
// is shared by every test of the binary, as the ports are.
var freePorts = &portPicker{given: map[int]bool{}}

type portPicker struct {
	mu    sync.Mutex
	given map[int]bool
	// end is where the kernel's ephemeral range begins, read once.
	end int
}

// lowestPort is where FreeAddr's range starts; it ends where the kernel's
// ephemeral range begins.
const lowestPort = 20000

func (p *portPicker) take() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.end == 0 {
		p.end = ephemeralStart()
	}
	for range 1000 {
		port := lowestPort + rand.IntN(p.end-lowestPort)
		if p.given[port] {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		_ = l.Close()
		p.given[port] = true
		return addr, nil
	}
	return "", fmt.Errorf("no free loopback port between %d and %d after 1000 tries", lowestPort, p.end)
}

// ephemeralStart is the first port the kernel hands out on its own
// (net.ipv4.ip_local_port_range), 32768 where it cannot be read.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= lowestPort+1000 {
		return 32768
	}
	return n
}

// Logger logs through the test, at warn and above, so failures show context
// without drowning the output.
func Logger(t testing.TB) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
}

// Eventually polls cond until it holds or the deadline passes.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Context is a context bounded for one test.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// ThriftStore runs falcon store's Thrift2 server in the test's process over a
// fresh Pebble store, and returns its address.
func ThriftStore(t testing.TB, framed bool) string {
	t.Helper()
	return ThriftStoreWith(t, hbaseserver.Options{Framed: framed})
}

// ThriftStoreWith is ThriftStore with the server's options.
func ThriftStoreWith(t testing.TB, o hbaseserver.Options) string {
	t.Helper()
	p, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, err := hbaseserver.NewHandler(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hbaseserver.Serve(ctx, addr, h, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Logf("falcon store's server: %v", err)
		}
		_ = p.Close()
	})
	return addr
}

// Listeners opens a gRPC and an HTTP listener on free loopback ports
// (127.0.0.1:0), for server.Run, which closes them.
func Listeners(t testing.TB) server.Listeners {
	t.Helper()
	ls, err := server.Addrs{GRPC: "127.0.0.1:0", HTTP: "127.0.0.1:0"}.Listen()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}
