package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/valyala/fastjson"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	falconv1 "github.com/falcon-chat/falcon/proto/gen/falcon/v1"
)

// restClient is ThreadCommandService and ThreadQueryService over the REST
// routes (HTTP/1.1 with keep-alive and JSON, as browsers call them), so that
// every scenario runs on either transport. Errors come back as gRPC
// statuses, from the error body the gateway writes.
type restClient struct {
	base string
	hc   *http.Client
}

func newRESTClient(addr string, conns int) *restClient {
	return &restClient{base: "http://" + addr, hc: &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
			IdleConnTimeout: time.Minute, ForceAttemptHTTP2: false,
			// A page of 50 messages is ~16 KB: read it in one or two
			// reads, as browsers do, not four of the default 4 KB, so the
			// generator takes less of the cores it shares with the server.
			ReadBufferSize: 64 << 10,
		},
	}}
}

var (
	restMarshal   = protojson.MarshalOptions{}
	restUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}
)

// call sends body (nil: none) to path with query, as the account in ctx's
// metadata, and decodes the answer into out.
func (c *restClient) call(ctx context.Context, method, path string, query url.Values, body, out proto.Message) error {
	return c.do(ctx, method, path, query, body, func(b []byte) error { return restUnmarshal.Unmarshal(b, out) })
}

// do is call with the answer's decoder: the hot answers are decoded with
// encoding/json into what the scenarios look at, so that the generator,
// on the same cores, does not spend more on an answer than the server (a
// full protojson decode of a 50-message page took it 1.3 cores at 2,700
// pages/s).
func (c *restClient) do(ctx context.Context, method, path string, query url.Values, body proto.Message, decode func([]byte) error) error {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := restMarshal.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	for k, vs := range md {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return status.Error(codes.Unavailable, err.Error())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return status.Error(codes.Unavailable, err.Error())
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &e) != nil || e.Code == 0 {
			return status.Errorf(codes.Unknown, "HTTP %d: %.200s", resp.StatusCode, b)
		}
		return status.Error(codes.Code(e.Code), e.Message)
	}
	return decode(b)
}

func threadPath(id string, rest ...string) string {
	p := "/v1/threads/" + url.PathEscape(id)
	for _, r := range rest {
		p += r
	}
	return p
}

func minVersion(v uint64) url.Values {
	if v == 0 {
		return nil
	}
	return url.Values{"minVersion": {strconv.FormatUint(v, 10)}}
}

// Commands.

func (c *restClient) CreateThread(ctx context.Context, in *falconv1.CreateThreadRequest, _ ...grpc.CallOption) (*falconv1.CreateThreadResponse, error) {
	out := &falconv1.CreateThreadResponse{}
	return out, c.call(ctx, http.MethodPost, "/v1/threads", nil, in, out)
}

func (c *restClient) UpdateThread(ctx context.Context, in *falconv1.UpdateThreadRequest, _ ...grpc.CallOption) (*falconv1.UpdateThreadResponse, error) {
	out := &falconv1.UpdateThreadResponse{}
	return out, c.call(ctx, http.MethodPatch, threadPath(in.ThreadId), nil, in, out)
}

func (c *restClient) DestroyThread(ctx context.Context, in *falconv1.DestroyThreadRequest, _ ...grpc.CallOption) (*falconv1.DestroyThreadResponse, error) {
	out := &falconv1.DestroyThreadResponse{}
	return out, c.call(ctx, http.MethodDelete, threadPath(in.ThreadId), url.Values{"requestId": {in.RequestId}}, nil, out)
}

func (c *restClient) AddMembers(ctx context.Context, in *falconv1.AddMembersRequest, _ ...grpc.CallOption) (*falconv1.AddMembersResponse, error) {
	out := &falconv1.AddMembersResponse{}
	return out, c.call(ctx, http.MethodPost, threadPath(in.ThreadId, "/members"), nil, in, out)
}

func (c *restClient) RemoveMembers(ctx context.Context, in *falconv1.RemoveMembersRequest, _ ...grpc.CallOption) (*falconv1.RemoveMembersResponse, error) {
	out := &falconv1.RemoveMembersResponse{}
	return out, c.call(ctx, http.MethodPost, threadPath(in.ThreadId, "/members:remove"), nil, in, out)
}

func (c *restClient) AddAdministrators(ctx context.Context, in *falconv1.AddAdministratorsRequest, _ ...grpc.CallOption) (*falconv1.AddAdministratorsResponse, error) {
	out := &falconv1.AddAdministratorsResponse{}
	return out, c.call(ctx, http.MethodPost, threadPath(in.ThreadId, "/administrators"), nil, in, out)
}

func (c *restClient) RemoveAdministrators(ctx context.Context, in *falconv1.RemoveAdministratorsRequest, _ ...grpc.CallOption) (*falconv1.RemoveAdministratorsResponse, error) {
	out := &falconv1.RemoveAdministratorsResponse{}
	return out, c.call(ctx, http.MethodPost, threadPath(in.ThreadId, "/administrators:remove"), nil, in, out)
}

func (c *restClient) PostMessage(ctx context.Context, in *falconv1.PostMessageRequest, _ ...grpc.CallOption) (*falconv1.PostMessageResponse, error) {
	var out struct {
		MessageID string `json:"messageId"`
		Version   uint64 `json:"version,string"`
	}
	err := c.do(ctx, http.MethodPost, threadPath(in.ThreadId, "/messages"), nil, in, func(b []byte) error { return json.Unmarshal(b, &out) })
	return &falconv1.PostMessageResponse{MessageId: out.MessageID, Version: out.Version}, err
}

func (c *restClient) EditMessage(ctx context.Context, in *falconv1.EditMessageRequest, _ ...grpc.CallOption) (*falconv1.EditMessageResponse, error) {
	out := &falconv1.EditMessageResponse{}
	return out, c.call(ctx, http.MethodPatch, threadPath(in.ThreadId, "/messages/", url.PathEscape(in.MessageId)), nil, in, out)
}

func (c *restClient) DeleteMessage(ctx context.Context, in *falconv1.DeleteMessageRequest, _ ...grpc.CallOption) (*falconv1.DeleteMessageResponse, error) {
	out := &falconv1.DeleteMessageResponse{}
	return out, c.call(ctx, http.MethodDelete, threadPath(in.ThreadId, "/messages/", url.PathEscape(in.MessageId)), url.Values{"requestId": {in.RequestId}}, nil, out)
}

func (c *restClient) MarkRead(ctx context.Context, in *falconv1.MarkReadRequest, _ ...grpc.CallOption) (*falconv1.MarkReadResponse, error) {
	out := &falconv1.MarkReadResponse{}
	return out, c.call(ctx, http.MethodPost, threadPath(in.ThreadId, ":markRead"), nil, in, out)
}

// Queries.

func (c *restClient) GetThread(ctx context.Context, in *falconv1.GetThreadRequest, _ ...grpc.CallOption) (*falconv1.GetThreadResponse, error) {
	out := &falconv1.GetThreadResponse{}
	return out, c.call(ctx, http.MethodGet, threadPath(in.ThreadId), minVersion(in.MinVersion), nil, out)
}

func (c *restClient) ListThreads(ctx context.Context, in *falconv1.ListThreadsRequest, _ ...grpc.CallOption) (*falconv1.ListThreadsResponse, error) {
	q := url.Values{"pageSize": {strconv.Itoa(int(in.PageSize))}}
	if in.PageToken != "" {
		q.Set("pageToken", in.PageToken)
	}
	if in.Filter != "" {
		q.Set("filter", in.Filter)
	}
	var resp *falconv1.ListThreadsResponse
	err := c.do(ctx, http.MethodGet, "/v1/threads", q, nil, func(b []byte) (err error) {
		resp, err = decodeThreadsPage(b)
		return err
	})
	return resp, err
}

// decodeThreadsPage reads what the scenarios look at of a page of threads:
// their ids and unread counts, and the next page's token.
func decodeThreadsPage(b []byte) (*falconv1.ListThreadsResponse, error) {
	resp := &falconv1.ListThreadsResponse{}
	err := readPage(b, "threads", func(v *fastjson.Value) error {
		resp.NextPageToken = string(v.GetStringBytes("nextPageToken"))
		for _, t := range v.GetArray("threads") {
			unread, err := strconv.ParseUint(string(t.GetStringBytes("unreadCount")), 10, 64)
			if err != nil {
				return fmt.Errorf("unreadCount: %w", err)
			}
			resp.Threads = append(resp.Threads, &falconv1.ThreadSummary{ThreadId: string(t.GetStringBytes("threadId")), UnreadCount: unread})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *restClient) ListMessages(ctx context.Context, in *falconv1.ListMessagesRequest, _ ...grpc.CallOption) (*falconv1.ListMessagesResponse, error) {
	q := url.Values{"pageSize": {strconv.Itoa(int(in.PageSize))}}
	if in.Order != falconv1.MessageOrder_MESSAGE_ORDER_UNSPECIFIED {
		q.Set("order", in.Order.String())
	}
	if in.PageToken != "" {
		q.Set("pageToken", in.PageToken)
	}
	if in.MinVersion != 0 {
		q.Set("minVersion", strconv.FormatUint(in.MinVersion, 10))
	}
	var resp *falconv1.ListMessagesResponse
	err := c.do(ctx, http.MethodGet, threadPath(in.ThreadId, "/messages"), q, nil, func(b []byte) (err error) {
		resp, err = decodeMessagesPage(b)
		return err
	})
	return resp, err
}

// decodeMessagesPage reads what the scenarios look at of a page of
// messages: their ids and the next page's token. The generator shares the
// server's cores, so it parses with fastjson (validating, without
// reflection): encoding/json took it about 100 µs a page, half of what
// the server spent answering it.
func decodeMessagesPage(b []byte) (*falconv1.ListMessagesResponse, error) {
	resp := &falconv1.ListMessagesResponse{}
	err := readPage(b, "messages", func(v *fastjson.Value) error {
		resp.NextPageToken = string(v.GetStringBytes("nextPageToken"))
		for _, m := range v.GetArray("messages") {
			resp.Messages = append(resp.Messages, &falconv1.Message{MessageId: string(m.GetStringBytes("messageId"))})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// readPage parses a page of what with a pooled parser and hands it to
// read, which copies out what it keeps: the parsed values belong to the
// parser.
func readPage(b []byte, what string, read func(*fastjson.Value) error) error {
	p := pagePool.Get()
	defer pagePool.Put(p)
	v, err := p.ParseBytes(b)
	if err == nil {
		err = read(v)
	}
	if err != nil {
		return fmt.Errorf("a page of %s: %w", what, err)
	}
	return nil
}

var pagePool fastjson.ParserPool

func (c *restClient) GetMessage(ctx context.Context, in *falconv1.GetMessageRequest, _ ...grpc.CallOption) (*falconv1.GetMessageResponse, error) {
	out := &falconv1.GetMessageResponse{}
	return out, c.call(ctx, http.MethodGet, threadPath(in.ThreadId, "/messages/", url.PathEscape(in.MessageId)), minVersion(in.MinVersion), nil, out)
}

var errNoRESTStream = errors.New("loadtest: the event stream is server-sent events over REST; the push scenario uses gRPC")

func (c *restClient) Subscribe(context.Context, *falconv1.SubscribeRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[falconv1.AccountEvent], error) {
	return nil, errNoRESTStream
}

var (
	_ falconv1.ThreadCommandServiceClient = (*restClient)(nil)
	_ falconv1.ThreadQueryServiceClient   = (*restClient)(nil)
)
