package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/falcon-chat/falcon/libs/auth"
)

// routes are the REST routes of the gateway, as method and path template.
var routes = []struct{ method, path string }{
	{"POST", "/v1/threads"},
	{"PATCH", "/v1/threads/{}"},
	{"DELETE", "/v1/threads/{}"},
	{"POST", "/v1/threads/{}/members"},
	{"POST", "/v1/threads/{}/members:remove"},
	{"POST", "/v1/threads/{}/administrators"},
	{"POST", "/v1/threads/{}/administrators:remove"},
	{"POST", "/v1/threads/{}/messages"},
	{"PATCH", "/v1/threads/{}/messages/{}"},
	{"DELETE", "/v1/threads/{}/messages/{}"},
	{"GET", "/v1/threads/{}"},
	{"GET", "/v1/threads"},
	{"GET", "/v1/threads/{}/messages"},
	{"GET", "/v1/threads/{}/messages/{}"},
}

// FuzzGatewayRoutes: whatever the path parameters, query and JSON body of
// any route, the gateway answers without a server error and without the
// decoders' or transport's words, as JSON with a message when it refuses.
func FuzzGatewayRoutes(f *testing.F) {
	srv := serveWith(f, func(*Serving) {})
	waitHTTP(f, http.DefaultClient, "http://"+srv.admin+"/readyz")
	client := &http.Client{Timeout: 10 * time.Second}
	f.Add(uint8(0), "T", "", `{"title":"t","memberIds":["bob"],"requestId":"01JD0000000000000000000001"}`)
	f.Add(uint8(7), "01JD0000000000000000000001", "", `{"body":"hello","mentionAccountIds":["bob"]}`)
	f.Add(uint8(12), "T", "pageSize=abc&order=SIDEWAYS", ``)
	f.Add(uint8(11), "", "pageSize=10&pageToken=%ff", ``)
	f.Add(uint8(8), "a/b", "", `{"body":12}`)
	f.Add(uint8(1), "%00", "", `{"title":"t","colour":"red"}`)
	f.Add(uint8(3), "T", "", `{"accountIds":"bob"}`)
	f.Add(uint8(10), "T", "minVersion=-1", ``)
	f.Add(uint8(0), "T", "", `{"title":"\ud800"}`)
	f.Fuzz(func(t *testing.T, route uint8, param, query, body string) {
		// A raw query with spaces or controls is not an HTTP request line;
		// the server's own 400 answers it before any of ours.
		if strings.IndexFunc(query, func(c rune) bool { return c <= ' ' || c >= 0x7f || c == '#' }) >= 0 {
			return
		}
		r := routes[int(route)%len(routes)]
		path := strings.ReplaceAll(r.path, "{}", url.PathEscape(param))
		u := "http://" + srv.http + path
		if query != "" {
			u += "?" + query
		}
		req, err := http.NewRequest(r.method, u, strings.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		req.Header.Set(auth.AccountHeader, "alice")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", r.method, u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q: %d %s", r.method, u, body, resp.StatusCode, b)
		}
		if resp.StatusCode < 400 {
			return
		}
		var st struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(b, &st); err != nil || st.Message == "" {
			// The mux's own answers for unknown paths and methods are plain.
			if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
				return
			}
			t.Fatalf("%s %s: %d %q is not a JSON status", r.method, u, resp.StatusCode, b)
		}
		for _, frag := range internals {
			if strings.Contains(st.Message, frag) {
				t.Fatalf("%s %s %q answers %q, showing %q", r.method, u, body, st.Message, frag)
			}
		}
	})
}
