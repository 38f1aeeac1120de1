package main

import (
	"context"
	"fmt"
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

// BenchmarkRESTDecodeMessagesPage decodes a 50-message page as the gateway
// writes it, what the generator does for every REST ListMessages.
func BenchmarkRESTDecodeMessagesPage(b *testing.B) {
	var page strings.Builder
	page.WriteString(`{"messages":[`)
	for i := range 50 {
		if i > 0 {
			page.WriteByte(',')
		}
		fmt.Fprintf(&page, `{"messageId":"01KBM3X6Q9V2H0000000000%03d","threadId":"01KBM3X6Q9V2H00000000000T0","senderId":"account-%d",`+
			`"body":"a message of ordinary length, number %d","replyToMessageId":"","mentionAccountIds":[],`+
			`"createdAt":"2026-12-04T17:18:29.123456789Z","version":"%d","messageNumber":"%d","replyToMessageNumber":"0"}`, i, i%8, i, 100+i, 1<<40+i)
	}
	page.WriteString(`],"nextPageToken":"bmV4dA","prevPageToken":""}`)
	body := []byte(page.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := decodeMessagesPage(body)
		if err != nil || len(resp.Messages) != 50 || resp.NextPageToken != "bmV4dA" {
			b.Fatal(len(resp.Messages), err)
		}
	}
}

// TestRESTDecodeRefusesMalformedPages: an answer that is not the JSON the
// gateway writes is an error the run counts, not an empty page.
func TestRESTDecodeRefusesMalformedPages(t *testing.T) {
	for _, body := range []string{``, `{"messages":[{"messageId":"M1"}`, `{"messages":[{"messageId":"M1"},]}`, `<html>`} {
		if _, err := decodeMessagesPage([]byte(body)); err == nil {
			t.Errorf("messages page %q decoded without an error", body)
		}
		if _, err := decodeThreadsPage([]byte(body)); err == nil {
			t.Errorf("threads page %q decoded without an error", body)
		}
	}
	if _, err := decodeThreadsPage([]byte(`{"threads":[{"threadId":"T","unreadCount":"many"}]}`)); err == nil {
		t.Error("an unread count that is not a number decoded without an error")
	}
}
