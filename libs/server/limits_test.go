package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/tlsfiles"
	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// fakeAPI serves the Falcon routes with answers shaped by the request:
// GetThread answers a response of exactly min_version bytes, PostMessage
// the length of the body it got.
type fakeAPI struct {
	falconv1.UnimplementedThreadQueryServiceServer
	falconv1.UnimplementedThreadCommandServiceServer
}

func (fakeAPI) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func (f fakeAPI) RegisterGRPC(s grpc.ServiceRegistrar) {
	falconv1.RegisterThreadQueryServiceServer(s, f)
	falconv1.RegisterThreadCommandServiceServer(s, f)
}

func (fakeAPI) Gateway() []RegisterFunc {
	return []RegisterFunc{
		func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
			return falconv1.RegisterThreadQueryServiceHandlerClient(ctx, mux, falconv1.NewThreadQueryServiceClient(conn))
		},
		func(ctx context.Context, mux *runtime.ServeMux, conn grpc.ClientConnInterface) error {
			return falconv1.RegisterThreadCommandServiceHandlerClient(ctx, mux, falconv1.NewThreadCommandServiceClient(conn))
		},
	}
}

func (fakeAPI) GetThread(_ context.Context, r *falconv1.GetThreadRequest) (*falconv1.GetThreadResponse, error) {
	return responseOfSize(int(min(r.MinVersion, MaxResponseBytes+1))), nil
}

func (fakeAPI) ListThreads(_ context.Context, r *falconv1.ListThreadsRequest) (*falconv1.ListThreadsResponse, error) {
	return &falconv1.ListThreadsResponse{NextPageToken: fmt.Sprint(r.PageSize)}, nil
}

func (fakeAPI) ListMessages(_ context.Context, r *falconv1.ListMessagesRequest) (*falconv1.ListMessagesResponse, error) {
	return &falconv1.ListMessagesResponse{NextPageToken: r.Order.String()}, nil
}

func (fakeAPI) PostMessage(_ context.Context, r *falconv1.PostMessageRequest) (*falconv1.PostMessageResponse, error) {
	return &falconv1.PostMessageResponse{MessageId: fmt.Sprint(len(r.Body))}, nil
}

// The other commands and GetMessage answer empty: the gateway's part is what is tested.
func (fakeAPI) CreateThread(context.Context, *falconv1.CreateThreadRequest) (*falconv1.CreateThreadResponse, error) {
	return &falconv1.CreateThreadResponse{}, nil
}

func (fakeAPI) UpdateThread(context.Context, *falconv1.UpdateThreadRequest) (*falconv1.UpdateThreadResponse, error) {
	return &falconv1.UpdateThreadResponse{}, nil
}

func (fakeAPI) DestroyThread(context.Context, *falconv1.DestroyThreadRequest) (*falconv1.DestroyThreadResponse, error) {
	return &falconv1.DestroyThreadResponse{}, nil
}

func (fakeAPI) AddMembers(context.Context, *falconv1.AddMembersRequest) (*falconv1.AddMembersResponse, error) {
	return &falconv1.AddMembersResponse{}, nil
}

func (fakeAPI) RemoveMembers(context.Context, *falconv1.RemoveMembersRequest) (*falconv1.RemoveMembersResponse, error) {
	return &falconv1.RemoveMembersResponse{}, nil
}

func (fakeAPI) AddAdministrators(context.Context, *falconv1.AddAdministratorsRequest) (*falconv1.AddAdministratorsResponse, error) {
	return &falconv1.AddAdministratorsResponse{}, nil
}

func (fakeAPI) RemoveAdministrators(context.Context, *falconv1.RemoveAdministratorsRequest) (*falconv1.RemoveAdministratorsResponse, error) {
	return &falconv1.RemoveAdministratorsResponse{}, nil
}

func (fakeAPI) EditMessage(context.Context, *falconv1.EditMessageRequest) (*falconv1.EditMessageResponse, error) {
	return &falconv1.EditMessageResponse{}, nil
}

func (fakeAPI) DeleteMessage(context.Context, *falconv1.DeleteMessageRequest) (*falconv1.DeleteMessageResponse, error) {
	return &falconv1.DeleteMessageResponse{}, nil
}

func (fakeAPI) GetMessage(context.Context, *falconv1.GetMessageRequest) (*falconv1.GetMessageResponse, error) {
	return &falconv1.GetMessageResponse{}, nil
}

// responseOfSize is a GetThreadResponse that encodes to exactly n bytes.
func responseOfSize(n int) *falconv1.GetThreadResponse {
	r := &falconv1.GetThreadResponse{Thread: &falconv1.Thread{}}
	for pad := n; pad >= 0; pad-- {
		r.Thread.Remarks = strings.Repeat("r", pad)
		if proto.Size(r) <= n {
			return r
		}
	}
	return r
}

// requestOfSize is a GetThreadRequest that encodes to exactly n bytes.
func requestOfSize(n int) *falconv1.GetThreadRequest {
	r := &falconv1.GetThreadRequest{}
	for pad := n; pad >= 0; pad-- {
		r.ThreadId = strings.Repeat("t", pad)
		if proto.Size(r) <= n {
			return r
		}
	}
	return r
}

type running struct {
	grpc, http, admin string
}

// serve runs fakeAPI behind Run with lim until the test ends.
func serve(t *testing.T, lim Limits) running {
	t.Helper()
	r := serveTLS(t, lim, tlsfiles.Server{})
	waitHTTP(t, http.DefaultClient, "http://"+r.admin+"/readyz")
	return r
}

// serveTLS is serve with TLS settings; it does not wait for readiness.
func serveTLS(t *testing.T, lim Limits, tlsSettings tlsfiles.Server) running {
	t.Helper()
	return serveWith(t, func(s *Serving) { s.Limits, s.TLS = lim, tlsSettings })
}

// serveWith runs fakeAPI behind Run, configured by configure, until the
// test ends; it does not wait for readiness.
func serveWith(t testing.TB, configure func(*Serving)) running {
	t.Helper()
	return serveComponent(t, configure, fakeAPI{})
}

// serveComponent runs c behind Run, configured by configure, until the
// test ends; it does not wait for readiness.
func serveComponent(t testing.TB, configure func(*Serving), c Component) running {
	t.Helper()
	ls, err := Addrs{GRPC: "127.0.0.1:0", HTTP: "127.0.0.1:0", Metrics: "127.0.0.1:0"}.Listen()
	if err != nil {
		t.Fatal(err)
	}
	r := running{ls.GRPC.Addr().String(), ls.HTTP.Addr().String(), ls.Metrics.Addr().String()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		sv := Serving{Log: zap.NewNop(), Authn: auth.Dev{}, Registry: prometheus.NewRegistry(), Listeners: ls}
		configure(&sv)
		done <- Run(ctx, sv, c)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

func waitHTTP(t testing.TB, c *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered 200: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func grpcClient(t *testing.T, addr string) falconv1.ThreadQueryServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20), grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return falconv1.NewThreadQueryServiceClient(conn)
}

func alice() context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), auth.AccountHeader, "alice")
}

type restAnswer struct {
	code int
	msg  string
}

func rest(t *testing.T, method, url, body string) restAnswer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(auth.AccountHeader, "alice")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var st struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(b, &st)
	return restAnswer{resp.StatusCode, st.Message}
}

// TestMessageSizeLimits: requests and responses are accepted up to their
// limit exactly and refused one byte past it, over gRPC and through the
// gateway, with a message that says what the limit is.
func TestMessageSizeLimits(t *testing.T) {
	srv := serve(t, Limits{})
	c := grpcClient(t, srv.grpc)

	if _, err := c.GetThread(alice(), requestOfSize(MaxRequestBytes)); err != nil {
		t.Errorf("gRPC request of exactly %d bytes: %v", MaxRequestBytes, err)
	}
	if _, err := c.GetThread(alice(), requestOfSize(MaxRequestBytes+1)); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("gRPC request of %d bytes: %v, want ResourceExhausted", MaxRequestBytes+1, err)
	}
	if resp, err := c.GetThread(alice(), &falconv1.GetThreadRequest{MinVersion: MaxResponseBytes}); err != nil || proto.Size(resp) != MaxResponseBytes {
		t.Errorf("gRPC response of exactly %d bytes: %v", MaxResponseBytes, err)
	}
	if _, err := c.GetThread(alice(), &falconv1.GetThreadRequest{MinVersion: MaxResponseBytes + 1}); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("gRPC response of %d bytes: %v, want ResourceExhausted", MaxResponseBytes+1, err)
	}

	base := "http://" + srv.http
	post := func(n int) string { // a JSON body of exactly n bytes
		return `{"body":"` + strings.Repeat("b", n-len(`{"body":""}`)) + `"}`
	}
	if got := rest(t, "POST", base+"/v1/threads/T/messages", post(MaxRequestBytes)); got.code != 200 {
		t.Errorf("REST body of exactly %d bytes: %+v", MaxRequestBytes, got)
	}
	want := fmt.Sprintf("the request body is larger than %d bytes", MaxRequestBytes)
	if got := rest(t, "POST", base+"/v1/threads/T/messages", post(MaxRequestBytes+1)); got.code != http.StatusRequestEntityTooLarge || got.msg != want {
		t.Errorf("REST body of %d bytes: %+v, want 413 %q", MaxRequestBytes+1, got, want)
	}
	if got := rest(t, "GET", fmt.Sprintf("%s/v1/threads/T?minVersion=%d", base, MaxResponseBytes), ""); got.code != 200 {
		t.Errorf("REST answer of exactly %d bytes: %+v", MaxResponseBytes, got)
	}
	// Past the bound is a server bug (responses are bounded by
	// construction), never the client's 429.
	if got := rest(t, "GET", fmt.Sprintf("%s/v1/threads/T?minVersion=%d", base, MaxResponseBytes+1), ""); got.code != 500 || got.msg != "the answer was too large to send; it was logged" {
		t.Errorf("REST answer of %d bytes: %+v, want 500", MaxResponseBytes+1, got)
	}
}

// internals are fragments of decoder, parser and transport errors that
// must never reach a REST client.
var internals = []string{"proto:", "strconv", "grpc:", "unexpected EOF", "syntax error", "json:", "parsing", "invalid character", "larger than max"}

// TestGatewayErrorsAreStable: malformed requests are refused with fixed,
// actionable texts naming the field where there is one, never the
// decoders' or the transport's own words. The same requests through a
// gateway with grpc-gateway's default error handler show what they were.
func TestGatewayErrorsAreStable(t *testing.T) {
	srv := serve(t, Limits{})
	base := "http://" + srv.http
	cases := []struct {
		name, method, path, body string
		code                     int
		msg                      string
	}{
		{"not JSON", "POST", "/v1/threads/T/messages", `{"body":`, 400, "the request body is not a JSON object of this method's request (see /openapi.json)"},
		{"garbage", "POST", "/v1/threads/T/messages", `}{`, 400, "the request body is not a JSON object of this method's request (see /openapi.json)"},
		{"unknown field", "POST", "/v1/threads/T/messages", `{"body":"x","colour":"red"}`, 400, `unknown field "colour"`},
		{"wrong type", "POST", "/v1/threads/T/messages", `{"body":12}`, 400, "body: not a valid value of its type"},
		{"bad integer in the query", "GET", "/v1/threads?pageSize=abc", "", 400, "query parameter page_size: unknown, or not a valid value"},
		{"huge integer in the query", "GET", "/v1/threads?pageSize=99999999999999999999", "", 400, "query parameter page_size: unknown, or not a valid value"},
		{"bad enum in the query", "GET", "/v1/threads/T/messages?order=SIDEWAYS", "", 400, "query parameter order: unknown, or not a valid value"},
		{"bad min version", "GET", "/v1/threads/T?minVersion=-1", "", 400, "query parameter min_version: unknown, or not a valid value"},
	}
	raw := rawGateway(t, srv.grpc)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := rest(t, c.method, base+c.path, c.body)
			if got.code != c.code || got.msg != c.msg {
				t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, got.code, got.msg, c.code, c.msg)
			}
			for _, frag := range internals {
				if strings.Contains(got.msg, frag) {
					t.Errorf("%s %s answers %q: shows %q", c.method, c.path, got.msg, frag)
				}
			}
			before := rest(t, c.method, raw+c.path, c.body)
			leaked := false
			for _, frag := range internals {
				leaked = leaked || strings.Contains(before.msg, frag)
			}
			// The default handler decodes with DiscardUnknown: no error.
			if !leaked && c.name != "unknown field" {
				t.Errorf("grpc-gateway's default handler says %q: the case no longer shows a leak", before.msg)
			}
		})
	}
}

// rawGateway is the gateway as grpc-gateway makes it by default: the
// weakened configuration the stable errors replace.
func rawGateway(t *testing.T, grpcAddr string) string {
	t.Helper()
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	mux := runtime.NewServeMux(runtime.WithIncomingHeaderMatcher(incomingHeader))
	for _, r := range (fakeAPI{}).Gateway() {
		if err := r(context.Background(), mux, conn); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { s.Close(); conn.Close() })
	return "http://" + l.Addr().String()
}

// trickle sends a request whose body comes one byte every 100 ms and says
// whether the server still holds the connection after hold.
func trickle(t *testing.T, addr string, hold time.Duration) (open bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/threads/T/messages HTTP/1.1\r\nHost: x\r\nX-Account-Id: alice\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the server closes
		close(closed)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(hold)
	for {
		select {
		case <-closed:
			return false
		case <-deadline:
			return true
		case <-tick.C:
			_, _ = conn.Write([]byte(" "))
		}
	}
}

// TestSlowClientsAreCutOff: a REST body trickled a byte at a time holds a
// connection only until the read timeout; gRPC clients pinging more often
// than allowed are sent away, and one connection carries at most
// MaxStreams RPCs at once.
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Run("REST read timeout", func(t *testing.T) {
		srv := serve(t, Limits{ReadTimeout: 300 * time.Millisecond})
		if trickle(t, srv.http, 10*time.Second) {
			t.Fatal("a trickled body held the connection 10 s past a 300 ms read timeout")
		}
		// Weakened: without a real bound the same client holds on.
		weak := serve(t, Limits{ReadTimeout: time.Hour})
		if !trickle(t, weak.http, 1500*time.Millisecond) {
			t.Fatal("the connection closed without a read timeout: the test does not show the attack")
		}
	})
	t.Run("gRPC pings and streams", func(t *testing.T) {
		srv := serve(t, Limits{MaxStreams: 7, KeepaliveMinInterval: time.Minute})
		conn, err := net.Dial("tcp", srv.grpc)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
			t.Fatal(err)
		}
		fr := http2.NewFramer(conn, bufio.NewReader(conn))
		if err := fr.WriteSettings(); err != nil {
			t.Fatal(err)
		}
		var streams uint32
		var goAway *http2.GoAwayFrame
		for i := 0; goAway == nil; i++ {
			if i < 10 {
				if err := fr.WritePing(false, [8]byte{byte(i)}); err != nil {
					t.Fatal(err)
				}
			}
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("after %d pings, no GOAWAY: %v", min(i, 10), err)
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if v, ok := f.Value(http2.SettingMaxConcurrentStreams); ok {
					streams = v
				}
			case *http2.GoAwayFrame:
				goAway = f
			}
		}
		if goAway.ErrCode != http2.ErrCodeEnhanceYourCalm || !strings.Contains(string(goAway.DebugData()), "too_many_pings") {
			t.Errorf("GOAWAY %v %q, want ENHANCE_YOUR_CALM too_many_pings", goAway.ErrCode, goAway.DebugData())
		}
		if streams != 7 {
			t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS %d, want 7", streams)
		}
	})
}

// TestConnectionCap: past MaxConnections client connections a new one is
// not served until one closes; the admin listener is not counted, so
// monitoring still reaches a saturated process.
func TestConnectionCap(t *testing.T) {
	srv := serve(t, Limits{MaxConnections: 1})
	held := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	get := func(c *http.Client, url string) error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		// Read to the end, or the client does not keep the connection.
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	if err := get(held, "http://"+srv.http+"/healthz"); err != nil {
		t.Fatal(err)
	}
	waiting := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{}}
	if err := get(waiting, "http://"+srv.http+"/healthz"); err == nil {
		t.Fatal("a connection past the cap was served")
	}
	if err := get(&http.Client{Timeout: 5 * time.Second}, "http://"+srv.admin+"/metrics"); err != nil {
		t.Fatalf("the admin listener is unreachable while clients are capped: %v", err)
	}
	held.CloseIdleConnections()
	waiting.Timeout = 10 * time.Second
	if err := get(waiting, "http://"+srv.http+"/healthz"); err != nil {
		t.Fatalf("a slot freed, yet the waiting client is not served: %v", err)
	}
}
