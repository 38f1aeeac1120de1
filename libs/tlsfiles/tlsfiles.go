// Package tlsfiles makes TLS configurations from PEM files: certificates,
// keys and certificate authorities, read again when the files change, so
// that rotated certificates (a renewed cert-manager Secret) take effect
// without a restart.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"
)

// checkEvery is how often a file's modification time is looked at, at
// most: handshakes in between use what was read.
const checkEvery = time.Second

// Server is a server's TLS settings: its certificate and key, and with a
// client CA, mutual TLS (clients must present a certificate it signed).
type Server struct {
	CertFile     string
	KeyFile      string
	ClientCAFile string
}

// RegisterFlags adds the server TLS flags to fs.
func (s *Server) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.CertFile, "tls-cert-file", "", "PEM certificate (chain) the gRPC, REST and admin listeners present; with --tls-key-file, serve TLS only (read again when it changes)")
	fs.StringVar(&s.KeyFile, "tls-key-file", "", "PEM private key of --tls-cert-file")
	fs.StringVar(&s.ClientCAFile, "tls-client-ca-file", "", "PEM CA bundle: clients of the gRPC and REST listeners must present a certificate it signed (mutual TLS)")
}

// Enabled says whether TLS is configured.
func (s Server) Enabled() bool { return s.CertFile != "" || s.KeyFile != "" }

// Validate says what is wrong with the settings.
func (s Server) Validate() error {
	switch {
	case (s.CertFile == "") != (s.KeyFile == ""):
		return errors.New("--tls-cert-file and --tls-key-file go together")
	case s.ClientCAFile != "" && s.CertFile == "":
		return errors.New("--tls-client-ca-file needs --tls-cert-file and --tls-key-file: mutual TLS is TLS first")
	}
	return nil
}

// Config returns the server TLS configuration, or nil without TLS. The
// files are read now (so that a wrong path fails at start) and again when
// they change. withClientCA false leaves client certificates unasked
// (for the admin listener, which probes and Prometheus reach).
func (s Server) Config(withClientCA bool, nextProtos ...string) (*tls.Config, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if !s.Enabled() {
		return nil, nil
	}
	kp := &keyPair{cert: watched{path: s.CertFile}, key: watched{path: s.KeyFile}}
	if _, err := kp.get(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     nextProtos,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return kp.get() },
	}
	if !withClientCA || s.ClientCAFile == "" {
		return cfg, nil
	}
	cas := &certPool{file: watched{path: s.ClientCAFile}}
	if _, err := cas.get(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: nextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			pool, err := cas.get()
			if err != nil {
				return nil, err
			}
			c := cfg.Clone()
			c.ClientAuth = tls.RequireAndVerifyClientCert
			c.ClientCAs = pool
			return c, nil
		},
	}, nil
}

// Client is a client's TLS settings: the CA that signed the server's
// certificate (the system's roots when empty), the name to verify it
// against (the dialled host when empty), and a certificate to present for
// mutual TLS.
type Client struct {
	CAFile     string
	CertFile   string
	KeyFile    string
	ServerName string
}

// Config returns the client TLS configuration; the files are read now and
// again when they change.
func (c Client) Config() (*tls.Config, error) {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("a client certificate needs both its certificate and key files")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		cas := &certPool{file: watched{path: c.CAFile}}
		pool, err := cas.get()
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
		// RootCAs is fixed per Config; a changed CA file is picked up by
		// verifying by hand against the current pool.
		cfg.InsecureSkipVerify = true //nolint:gosec // verified in VerifyConnection against the CA file
		name := c.ServerName
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			pool, err := cas.get()
			if err != nil {
				return err
			}
			opts := x509.VerifyOptions{Roots: pool, DNSName: name, Intermediates: x509.NewCertPool()}
			if opts.DNSName == "" {
				opts.DNSName = cs.ServerName
			}
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server presented no certificate")
			}
			for _, ic := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(ic)
			}
			_, err = cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	if c.CertFile != "" {
		kp := &keyPair{cert: watched{path: c.CertFile}, key: watched{path: c.KeyFile}}
		if _, err := kp.get(); err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kp.get() }
	}
	return cfg, nil
}

// watched is a file whose modification time is looked at no more often
// than checkEvery.
type watched struct {
	path    string
	mod     time.Time
	size    int64
	checked time.Time
}

// changed says whether the file changed since last read (true the first
// time).
func (w *watched) changed(now time.Time) (bool, error) {
	if !w.checked.IsZero() && now.Sub(w.checked) < checkEvery {
		return false, nil
	}
	w.checked = now
	fi, err := os.Stat(w.path)
	if err != nil {
		return false, fmt.Errorf("TLS file: %w", err)
	}
	if fi.ModTime().Equal(w.mod) && fi.Size() == w.size {
		return false, nil
	}
	w.mod, w.size = fi.ModTime(), fi.Size()
	return true, nil
}

type keyPair struct {
	mu        sync.Mutex
	cert, key watched
	current   *tls.Certificate
}

// get returns the certificate, read again if either file changed. A pair
// that does not load (a rotation half done) keeps the previous one.
func (k *keyPair) get() (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now()
	certChanged, err := k.cert.changed(now)
	if err != nil && k.current == nil {
		return nil, err
	}
	keyChanged, err := k.key.changed(now)
	if err != nil && k.current == nil {
		return nil, err
	}
	if certChanged || keyChanged || k.current == nil {
		c, err := tls.LoadX509KeyPair(k.cert.path, k.key.path)
		if err != nil {
			if k.current == nil {
				return nil, fmt.Errorf("TLS key pair %s, %s: %w", k.cert.path, k.key.path, err)
			}
			k.cert.mod, k.key.mod = time.Time{}, time.Time{} // try again next time
			return k.current, nil
		}
		k.current = &c
	}
	return k.current, nil
}

type certPool struct {
	mu      sync.Mutex
	file    watched
	current *x509.CertPool
}

func (p *certPool) get() (*x509.CertPool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	changed, err := p.file.changed(time.Now())
	if err != nil && p.current == nil {
		return nil, err
	}
	if changed || p.current == nil {
		pem, err := os.ReadFile(p.file.path)
		pool := x509.NewCertPool()
		if err == nil && !pool.AppendCertsFromPEM(pem) {
			err = errors.New("no PEM certificate in it")
		}
		if err != nil {
			if p.current == nil {
				return nil, fmt.Errorf("TLS CA file %s: %w", p.file.path, err)
			}
			p.file.mod = time.Time{}
			return p.current, nil
		}
		p.current = pool
	}
	return p.current, nil
}
