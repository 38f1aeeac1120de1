package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/ratelimit"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// TestRateLimits: an account past its command budget is refused with when
// to retry, over gRPC and REST (429, Retry-After), while its queries and
// other accounts go on; an address past its budget is refused whoever it
// claims to be; without limits the same flood is served.
func TestRateLimits(t *testing.T) {
	slow := func(burst int) ratelimit.Budget { return ratelimit.Budget{PerSecond: 0.001, Burst: burst} }
	limits := RateLimits{Enabled: true,
		AccountCommands: slow(3), AccountQueries: slow(100),
		AddressCommands: slow(100), AddressQueries: slow(100)}
	srv := serveWith(t, func(s *Serving) { s.RateLimits = limits })
	waitHTTP(t, http.DefaultClient, "http://"+srv.admin+"/readyz")
	conn, err := grpc.NewClient(srv.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	commands, queries := falconv1.NewThreadCommandServiceClient(conn), falconv1.NewThreadQueryServiceClient(conn)
	as := func(account string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), auth.AccountHeader, account)
	}
	post := func(account string) error {
		_, err := commands.PostMessage(as(account), &falconv1.PostMessageRequest{ThreadId: "T", Body: "b"})
		return err
	}
	for i := range 3 {
		if err := post("alice"); err != nil {
			t.Fatalf("alice's command %d within her burst: %v", i, err)
		}
	}
	err = post("alice")
	st := status.Convert(err)
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if st.Code() != codes.ResourceExhausted || retry == nil || !strings.Contains(st.Message(), "account alice") {
		t.Fatalf("alice past her budget: %v (retry %v), want RESOURCE_EXHAUSTED naming her, with RetryInfo", err, retry)
	}
	if _, err := queries.ListThreads(as("alice"), &falconv1.ListThreadsRequest{}); err != nil {
		t.Fatalf("alice's queries have their own budget: %v", err)
	}
	if err := post("bob"); err != nil {
		t.Fatalf("alice's flood spent bob's budget: %v", err)
	}
	req, _ := http.NewRequest("POST", "http://"+srv.http+"/v1/threads/T/messages", strings.NewReader(`{"body":"b"}`))
	req.Header.Set(auth.AccountHeader, "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("REST past the budget: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	// One address, many accounts: the address budget holds.
	perAddress := limits
	perAddress.AccountCommands, perAddress.AddressCommands = slow(100), slow(5)
	srv2 := serveWith(t, func(s *Serving) { s.RateLimits = perAddress })
	waitHTTP(t, http.DefaultClient, "http://"+srv2.admin+"/readyz")
	conn2, err := grpc.NewClient(srv2.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	served := 0
	for i := range 20 {
		if _, err := falconv1.NewThreadCommandServiceClient(conn2).PostMessage(as(strings.Repeat("m", i+1)), &falconv1.PostMessageRequest{ThreadId: "T", Body: "b"}); err == nil {
			served++
		}
	}
	if served != 5 {
		t.Fatalf("20 accounts from one address: %d commands served, want the address's 5", served)
	}

	// Weakened: without limits the same flood is served.
	open := serve(t, Limits{})
	conn3, err := grpc.NewClient(open.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn3.Close()
	for i := range 10 {
		if _, err := falconv1.NewThreadCommandServiceClient(conn3).PostMessage(as("alice"), &falconv1.PostMessageRequest{ThreadId: "T", Body: "b"}); err != nil {
			t.Fatalf("command %d without limits: %v", i, err)
		}
	}
}

// TestClientAddress: the address budget is the connection's peer unless
// proxies are trusted; the REST gateway's own X-Forwarded-For entry is
// always believed, a client's is not.
func TestClientAddress(t *testing.T) {
	cases := []struct {
		name    string
		network string
		xff     []string
		hops    int
		want    string
	}{
		{"direct, header ignored", "tcp", []string{"198.51.100.9"}, 0, "192.0.2.1:5000"},
		{"through the gateway", gatewayNetwork, []string{"203.0.113.7"}, 0, "203.0.113.7"},
		{"through the gateway, spoofed header first", gatewayNetwork, []string{"198.51.100.9, 203.0.113.7"}, 0, "203.0.113.7"},
		{"gateway behind one proxy", gatewayNetwork, []string{"198.51.100.9, 203.0.113.7, 10.0.0.2"}, 1, "203.0.113.7"},
		{"direct behind one proxy", "tcp", []string{"203.0.113.7"}, 1, "203.0.113.7"},
		{"fewer entries than hops", "tcp", nil, 2, "192.0.2.1:5000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := &rateLimiter{cfg: RateLimits{TrustedProxyHops: c.hops}}
			ctx := peerContext(c.network, "192.0.2.1:5000")
			if c.xff != nil {
				ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("x-forwarded-for", strings.Join(c.xff, ",")))
			}
			if got := l.clientAddress(ctx); got != c.want {
				t.Fatalf("client address %q, want %q", got, c.want)
			}
		})
	}
}

type testAddr struct{ network, addr string }

func (a testAddr) Network() string { return a.network }
func (a testAddr) String() string  { return a.addr }

func peerContext(network, addr string) context.Context {
	return peer.NewContext(context.Background(), &peer.Peer{Addr: testAddr{network, addr}})
}
