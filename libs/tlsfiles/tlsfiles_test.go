package tlsfiles_test

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/falcon-chat/falcon/libs/testenv"
	"github.com/falcon-chat/falcon/libs/testpki"
	"github.com/falcon-chat/falcon/libs/tlsfiles"
)

// listen serves TLS handshakes with cfg until the test ends.
func listen(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
				_, _ = c.Read(make([]byte, 1))
			}()
		}
	}()
	return l.Addr().String()
}

// handshake dials addr with cfg and returns the server's certificate serial.
func handshake(addr string, cfg *tls.Config) (int64, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	// With TLS 1.3 a refused client certificate shows on the first read.
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			return 0, err
		}
	}
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

func TestMutualTLS(t *testing.T) {
	pki := testpki.New(t)
	other := testpki.New(t)
	srv, err := tlsfiles.Server{CertFile: pki.ServerCert, KeyFile: pki.ServerKey, ClientCAFile: pki.CAFile}.Config(true)
	if err != nil {
		t.Fatal(err)
	}
	addr := listen(t, srv)
	cases := []struct {
		name   string
		client tlsfiles.Client
		ok     bool
	}{
		{"client certificate from the CA", tlsfiles.Client{CAFile: pki.CAFile, CertFile: pki.ClientCert, KeyFile: pki.ClientKey}, true},
		{"no client certificate", tlsfiles.Client{CAFile: pki.CAFile}, false},
		{"client certificate from another CA", tlsfiles.Client{CAFile: pki.CAFile, CertFile: other.ClientCert, KeyFile: other.ClientKey}, false},
		{"server not signed by the trusted CA", tlsfiles.Client{CAFile: other.CAFile, CertFile: pki.ClientCert, KeyFile: pki.ClientKey}, false},
		{"server under another name", tlsfiles.Client{CAFile: pki.CAFile, CertFile: pki.ClientCert, KeyFile: pki.ClientKey, ServerName: "write-api.falcon.svc"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := c.client.Config()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := handshake(addr, cfg); (err == nil) != c.ok {
				t.Fatalf("handshake: %v, want ok=%v", err, c.ok)
			}
		})
	}
}

// TestCertificatesAreReadAgainWhenTheyChange: a renewed server certificate
// is presented to new connections without a restart.
func TestCertificatesAreReadAgainWhenTheyChange(t *testing.T) {
	pki := testpki.New(t)
	srv, err := tlsfiles.Server{CertFile: pki.ServerCert, KeyFile: pki.ServerKey}.Config(false)
	if err != nil {
		t.Fatal(err)
	}
	addr := listen(t, srv)
	cfg, err := tlsfiles.Client{CAFile: pki.CAFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if serial, err := handshake(addr, cfg); err != nil || serial != 2 {
		t.Fatalf("first certificate: serial %d, %v", serial, err)
	}
	pki.Issue(t, pki.ServerCert, pki.ServerKey, "falcon server, renewed", 42)
	testenv.Eventually(t, 10*time.Second, "the renewed certificate presented", func() bool {
		serial, err := handshake(addr, cfg)
		return err == nil && serial == 42
	})
}

func TestServerSettingsAreChecked(t *testing.T) {
	pki := testpki.New(t)
	bad := []tlsfiles.Server{
		{CertFile: pki.ServerCert},
		{KeyFile: pki.ServerKey},
		{ClientCAFile: pki.CAFile},
		{CertFile: pki.ServerCert, KeyFile: pki.ClientKey},
		{CertFile: pki.ServerCert, KeyFile: pki.ServerKey, ClientCAFile: pki.ServerKey},
		{CertFile: pki.Dir + "/missing.pem", KeyFile: pki.ServerKey},
	}
	for _, s := range bad {
		if _, err := s.Config(true); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}
