package hbaseserver_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/falcon-chat/falcon/libs/hbaseserver"
	"github.com/falcon-chat/falcon/libs/hbasestore"
	"github.com/falcon-chat/falcon/libs/testenv"
	"github.com/falcon-chat/falcon/libs/testpki"
	"github.com/falcon-chat/falcon/libs/tlsfiles"
)

// serve runs falcon store's server with o until the test ends, once it
// listens.
func serve(t *testing.T, o hbaseserver.Options) string {
	t.Helper()
	addr := testenv.ThriftStoreWith(t, o)
	testenv.Eventually(t, 10*time.Second, "falcon store listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

// held dials addr, sends what send sends, and says whether the server still
// holds the connection after hold.
func held(t *testing.T, addr string, hold time.Duration, send func(net.Conn)) bool {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, c)
		close(closed)
	}()
	stop := make(chan struct{})
	defer close(stop)
	go send(c)
	select {
	case <-closed:
		return false
	case <-time.After(hold):
		return true
	}
}

// trickle sends the start of a call a byte every 100 ms.
func trickle(c net.Conn) {
	call := []byte{0x80, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0b, 'p', 'u', 't', 'M', 'u', 'l', 't', 'i', 'p', 'l', 'e'}
	for _, b := range call {
		if _, err := c.Write([]byte{b}); err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func silent(net.Conn) {}

// TestSlowAndIdleClientsAreCutOff: a call trickled a byte at a time holds a
// connection only for the request timeout, a silent one only for the idle
// timeout; with the timeouts weakened to an hour both hold on. Pooled
// clients reconnect past a closed idle connection.
func TestSlowAndIdleClientsAreCutOff(t *testing.T) {
	addr := serve(t, hbaseserver.Options{RequestTimeout: 300 * time.Millisecond, IdleTimeout: 500 * time.Millisecond})
	if held(t, addr, 10*time.Second, trickle) {
		t.Error("a trickled call held the connection 10 s past a 300 ms request timeout")
	}
	if held(t, addr, 10*time.Second, silent) {
		t.Error("a silent connection was held 10 s past a 500 ms idle timeout")
	}
	weak := serve(t, hbaseserver.Options{RequestTimeout: time.Hour, IdleTimeout: time.Hour})
	if !held(t, weak, 1500*time.Millisecond, trickle) || !held(t, weak, 1500*time.Millisecond, silent) {
		t.Fatal("without timeouts the connections closed anyway: the test does not show the attack")
	}

	ctx := testenv.Context(t, 30*time.Second)
	s, err := hbasestore.Open(ctx, hbasestore.Options{Addr: addr, PoolSize: 2, Timeout: 5 * time.Second, Retries: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		time.Sleep(700 * time.Millisecond) // past the idle timeout
	}
}

// TestConnectionCap: past MaxConnections a new connection is not served
// until one closes.
func TestConnectionCap(t *testing.T) {
	addr := serve(t, hbaseserver.Options{MaxConnections: 1})
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	ctx := testenv.Context(t, 30*time.Second)
	pinged := make(chan error, 1)
	go func() {
		s, err := hbasestore.Open(ctx, hbasestore.Options{Addr: addr, PoolSize: 1, Timeout: 20 * time.Second, Retries: 1})
		if err != nil {
			pinged <- err
			return
		}
		defer s.Close()
		pinged <- s.Ping(ctx)
	}()
	select {
	case err := <-pinged:
		t.Fatalf("a second connection was served past a cap of one: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	first.Close()
	if err := <-pinged; err != nil {
		t.Fatalf("a slot freed, yet the waiting client failed: %v", err)
	}
}

// TestThriftTLS: falcon store with TLS and a client CA serves the read
// store's client over mutual TLS, and nobody in plain text, without a
// client certificate or trusting another CA.
func TestThriftTLS(t *testing.T) {
	pki := testpki.New(t)
	serverTLS, err := tlsfiles.Server{CertFile: pki.ServerCert, KeyFile: pki.ServerKey, ClientCAFile: pki.CAFile}.Config(true)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, hbaseserver.Options{TLS: serverTLS})
	other := testpki.New(t)
	cases := []struct {
		name string
		tls  *tlsfiles.Client
		ok   bool
	}{
		{"mutual TLS", &tlsfiles.Client{CAFile: pki.CAFile, CertFile: pki.ClientCert, KeyFile: pki.ClientKey}, true},
		{"plain text", nil, false},
		{"no client certificate", &tlsfiles.Client{CAFile: pki.CAFile}, false},
		{"trusting another CA", &tlsfiles.Client{CAFile: other.CAFile, CertFile: pki.ClientCert, KeyFile: pki.ClientKey}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := testenv.Context(t, 30*time.Second)
			s, err := hbasestore.Open(ctx, hbasestore.Options{Addr: addr, PoolSize: 1, Timeout: 2 * time.Second, TLS: c.tls})
			if err == nil {
				err = s.Ping(ctx)
				s.Close()
			}
			if (err == nil) != c.ok {
				t.Fatalf("ping: %v, want ok=%v", err, c.ok)
			}
		})
	}
}
