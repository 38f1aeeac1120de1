// Package testenv starts what integration tests need on loopback: the
// embedded broker, free ports, and clients that wait for a service.
package testenv

import (
	"context"
	"net"
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
// ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
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
