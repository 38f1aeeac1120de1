// Package hbasestore is the read store on HBase, through its Thrift2 gateway
// (THBaseService, TBinaryProtocol). It implements readstore.Store, and also
// creates the tables the read models need.
package hbasestore

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/falcon-chat/falcon/libs/tlsfiles"
)

// Options of a connection to a Thrift2 gateway, from a store URL:
//
//	hbase+thrift://host:port?namespace=falcon&transport=buffered&pool=32&timeout=5s&retries=3
//
// TLS to the gateway: tls=true, with tls_ca (PEM CA file; default the
// system's), tls_cert and tls_key (a client certificate for mutual TLS) and
// tls_server_name (the name in the gateway's certificate).
type Options struct {
	Addr string
	// Namespace prefixes every table: table "threads" is "falcon:threads".
	Namespace string
	// Framed selects TFramedTransport (the gateway's -f); else buffered.
	Framed   bool
	PoolSize int
	// Timeout bounds connecting and each call.
	Timeout time.Duration
	// Retries is how often an idempotent call is retried, on a fresh
	// connection, after a transport error.
	Retries int
	// TLS, when not nil, is how the gateway is reached over TLS.
	TLS *tlsfiles.Client
}

// ParseURL reads Options from a hbase+thrift:// URL.
func ParseURL(u *url.URL) (Options, error) {
	o := Options{Addr: u.Host, Namespace: "falcon", PoolSize: 32, Timeout: 5 * time.Second, Retries: 3}
	if u.Scheme != "hbase+thrift" || u.Host == "" || u.Port() == "" {
		return o, fmt.Errorf("store URL %q: want hbase+thrift://host:port", u.String())
	}
	q := u.Query()
	if v := q.Get("namespace"); v != "" {
		o.Namespace = v
	}
	switch q.Get("transport") {
	case "", "buffered":
	case "framed":
		o.Framed = true
	default:
		return o, fmt.Errorf("store URL %q: transport must be buffered or framed", u.String())
	}
	for key, dst := range map[string]*int{"pool": &o.PoolSize, "retries": &o.Retries} {
		if v := q.Get(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || (key == "pool" && n == 0) {
				return o, fmt.Errorf("store URL %q: %s=%q is not a valid count", u.String(), key, v)
			}
			*dst = n
		}
	}
	switch q.Get("tls") {
	case "", "false":
		for _, k := range []string{"tls_ca", "tls_cert", "tls_key", "tls_server_name"} {
			if q.Get(k) != "" {
				return o, fmt.Errorf("store URL %q: %s needs tls=true", u.String(), k)
			}
		}
	case "true":
		o.TLS = &tlsfiles.Client{CAFile: q.Get("tls_ca"), CertFile: q.Get("tls_cert"), KeyFile: q.Get("tls_key"), ServerName: q.Get("tls_server_name")}
	default:
		return o, fmt.Errorf("store URL %q: tls must be true or false", u.String())
	}
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return o, fmt.Errorf("store URL %q: timeout=%q is not a positive duration", u.String(), v)
		}
		o.Timeout = d
	}
	return o, nil
}

// URL is the store URL of o's gateway and namespace, for messages that tell
// an operator what to run.
func (o Options) URL() string {
	u := url.URL{Scheme: "hbase+thrift", Host: o.Addr}
	q := url.Values{}
	if o.Namespace != "" {
		q.Set("namespace", o.Namespace)
	}
	if o.Framed {
		q.Set("transport", "framed")
	}
	if o.TLS != nil {
		q.Set("tls", "true")
		for k, v := range map[string]string{"tls_ca": o.TLS.CAFile, "tls_cert": o.TLS.CertFile, "tls_key": o.TLS.KeyFile, "tls_server_name": o.TLS.ServerName} {
			if v != "" {
				q.Set(k, v)
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// table is the HBase name of a read-store table.
func (o Options) table(name string) []byte {
	if o.Namespace == "" {
		return []byte(name)
	}
	return []byte(o.Namespace + ":" + name)
}
