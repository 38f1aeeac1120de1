package server

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/falcon-chat/falcon/libs/testpki"
	"github.com/falcon-chat/falcon/libs/tlsfiles"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// TestTLS: with a certificate and a client CA, the gRPC and REST listeners
// speak only TLS and serve only clients with a certificate from the CA (the
// REST gateway still reaching the gRPC server behind them); the admin
// listener speaks TLS to anyone, for probes and Prometheus.
func TestTLS(t *testing.T) {
	pki := testpki.New(t)
	srv := serveTLS(t, Limits{}, tlsfiles.Server{CertFile: pki.ServerCert, KeyFile: pki.ServerKey, ClientCAFile: pki.CAFile})
	client := func(withCert bool) *tls.Config {
		c := tlsfiles.Client{CAFile: pki.CAFile}
		if withCert {
			c.CertFile, c.KeyFile = pki.ClientCert, pki.ClientKey
		}
		cfg, err := c.Config()
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	httpsClient := func(cfg *tls.Config) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	waitHTTP(t, httpsClient(client(false)), "https://"+srv.admin+"/readyz")

	call := func(creds grpc.DialOption) error {
		conn, err := grpc.NewClient(srv.grpc, creds)
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = falconv1.NewThreadQueryServiceClient(conn).ListThreads(alice(), &falconv1.ListThreadsRequest{})
		return err
	}
	if err := call(grpc.WithTransportCredentials(credentials.NewTLS(client(true)))); err != nil {
		t.Errorf("gRPC over mutual TLS: %v", err)
	}
	if err := call(grpc.WithTransportCredentials(credentials.NewTLS(client(false)))); err == nil {
		t.Error("gRPC without a client certificate was served")
	}
	if err := call(grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
		t.Error("gRPC in plain text was served")
	}

	get := func(c *http.Client, url string) (int, error) {
		resp, err := c.Get(url)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get(httpsClient(client(true)), "https://"+srv.http+"/v1/threads"); err != nil || code != http.StatusUnauthorized {
		// No identity header: the gateway reached the server, which refused.
		t.Errorf("REST over mutual TLS: %d %v, want 401 from the service", code, err)
	}
	if _, err := get(httpsClient(client(false)), "https://"+srv.http+"/healthz"); err == nil {
		t.Error("REST without a client certificate was served")
	}
	if code, err := get(&http.Client{Timeout: 5 * time.Second}, "http://"+srv.http+"/healthz"); err == nil && code != http.StatusBadRequest {
		t.Errorf("REST in plain text: %d, want refused", code)
	}
	if code, err := get(httpsClient(client(false)), "https://"+srv.admin+"/metrics"); err != nil || code != 200 {
		t.Errorf("admin over TLS without a client certificate: %d %v", code, err)
	}
}
