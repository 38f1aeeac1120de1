package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// TestRESTClient: the REST client calls the routes of http.yaml as the
// account of the context, and reads answers and errors as gRPC would.
func TestRESTClient(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.RequestURI()+" as "+r.Header.Get("X-Account-Id")+" "+strings.ReplaceAll(string(body), " ", "")) // protojson spaces at random
		switch {
		case strings.HasSuffix(r.URL.Path, "/messages") && r.Method == http.MethodPost:
			_, _ = io.WriteString(w, `{"messageId":"M1", "version":"7"}`)
		case strings.HasSuffix(r.URL.Path, "/messages"):
			_, _ = io.WriteString(w, `{"messages":[{"messageId":"M2","body":"b","version":"3"},{"messageId":"M1"}],"nextPageToken":"n"}`)
		case r.URL.Path == "/v1/threads":
			_, _ = io.WriteString(w, `{"threads":[{"threadId":"T","unreadCount":"4","memberCount":2}],"nextPageToken":""}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"code":5,"message":"thread T does not exist","details":[]}`)
		}
	}))
	defer srv.Close()
	c := newRESTClient(strings.TrimPrefix(srv.URL, "http://"), 2)
	ctx := as(context.Background(), "alice")

	p, err := c.PostMessage(ctx, &falconv1.PostMessageRequest{ThreadId: "T", Body: "hi"})
	if err != nil || p.MessageId != "M1" || p.Version != 7 {
		t.Errorf("PostMessage: %v %v", p, err)
	}
	l, err := c.ListMessages(ctx, &falconv1.ListMessagesRequest{ThreadId: "T", PageSize: 50, Order: falconv1.MessageOrder_MESSAGE_ORDER_NEWEST_FIRST})
	if err != nil || len(l.Messages) != 2 || l.Messages[0].MessageId != "M2" || l.NextPageToken != "n" {
		t.Errorf("ListMessages: %v %v", l, err)
	}
	th, err := c.ListThreads(ctx, &falconv1.ListThreadsRequest{PageSize: 10, Filter: "mentions"})
	if err != nil || len(th.Threads) != 1 || th.Threads[0].UnreadCount != 4 {
		t.Errorf("ListThreads: %v %v", th, err)
	}
	if _, err := c.GetThread(ctx, &falconv1.GetThreadRequest{ThreadId: "T", MinVersion: 9}); status.Code(err) != codes.NotFound || status.Convert(err).Message() != "thread T does not exist" {
		t.Errorf("GetThread of a missing thread: %v, want NotFound with the server's message", err)
	}
	want := []string{
		`POST /v1/threads/T/messages as alice {"threadId":"T","body":"hi"}`,
		`GET /v1/threads/T/messages?order=MESSAGE_ORDER_NEWEST_FIRST&pageSize=50 as alice `,
		`GET /v1/threads?filter=mentions&pageSize=10 as alice `,
		`GET /v1/threads/T?minVersion=9 as alice `,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
