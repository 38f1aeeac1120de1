package server

import (
	"context"
	"flag"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/falcon-chat/falcon/libs/auth"
	"github.com/falcon-chat/falcon/libs/ratelimit"
)

// RateLimits are the request budgets: per account and per client address,
// separately for commands and queries. Off unless Enabled (deployments turn
// them on; a laptop or a load test does not want them).
type RateLimits struct {
	Enabled         bool
	AccountCommands ratelimit.Budget
	AccountQueries  ratelimit.Budget
	AddressCommands ratelimit.Budget
	AddressQueries  ratelimit.Budget
	// TrustedProxyHops is how many proxies in front of the service append
	// to X-Forwarded-For: the client's address is that many entries from
	// the end. 0 trusts no header: the address is the connection's peer.
	TrustedProxyHops int
}

// RegisterFlags adds the rate-limit flags to fs.
func (r *RateLimits) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&r.Enabled, "rate-limit", false, "refuse requests past the budgets below with 429 / RESOURCE_EXHAUSTED and when to retry")
	budget := func(b *ratelimit.Budget, name, what string, perSecond float64, burst int) {
		fs.Float64Var(&b.PerSecond, "rate-limit-"+name, perSecond, what+" per second, sustained")
		fs.IntVar(&b.Burst, "rate-limit-"+name+"-burst", burst, what+" at once above the sustained rate")
	}
	budget(&r.AccountCommands, "account-commands", "commands of one account", 10, 50)
	budget(&r.AccountQueries, "account-queries", "queries of one account", 50, 200)
	budget(&r.AddressCommands, "address-commands", "commands from one client address (IPv6: one /64)", 100, 500)
	budget(&r.AddressQueries, "address-queries", "queries from one client address (IPv6: one /64)", 500, 2000)
	fs.IntVar(&r.TrustedProxyHops, "trusted-proxy-hops", 0, "proxies in front that append to X-Forwarded-For; the client address is that many entries from its end (0: the connection's peer)")
}

// Validate says what is wrong with the budgets.
func (r RateLimits) Validate() error {
	for name, b := range map[string]ratelimit.Budget{"account-commands": r.AccountCommands, "account-queries": r.AccountQueries,
		"address-commands": r.AddressCommands, "address-queries": r.AddressQueries} {
		if r.Enabled && (b.PerSecond <= 0 || b.Burst < 1) {
			return fmt.Errorf("--rate-limit-%s=%g with burst %d: want a positive rate and a burst of at least 1", name, b.PerSecond, b.Burst)
		}
	}
	if r.TrustedProxyHops < 0 {
		return fmt.Errorf("--trusted-proxy-hops=%d: want 0 or more", r.TrustedProxyHops)
	}
	return nil
}

// gatewayNetwork is the network of the REST gateway's in-memory connection.
const gatewayNetwork = "bufconn"

// requestClass is what a method spends: a command, a query, or nothing.
func requestClass(fullMethod string) string {
	switch {
	case strings.HasPrefix(fullMethod, "/falcon.v1.ThreadCommandService/"):
		return "command"
	case strings.HasPrefix(fullMethod, "/falcon.v1.ThreadQueryService/"):
		return "query"
	}
	return ""
}

// rateLimiter spends the budgets of each request.
type rateLimiter struct {
	cfg       RateLimits
	byAccount map[string]*ratelimit.Buckets
	byAddress map[string]*ratelimit.Buckets
	refused   *prometheus.CounterVec
	now       func() time.Time
}

func newRateLimiter(cfg RateLimits, reg prometheus.Registerer) *rateLimiter {
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "falcon_rate_limited_requests_total", Help: "Requests refused for a spent budget, by class (command, query) and by whose budget (account, address).",
	}, []string{"class", "by"})
	reg.MustRegister(refused)
	for _, class := range []string{"command", "query"} {
		for _, by := range []string{"account", "address"} {
			refused.WithLabelValues(class, by)
		}
	}
	return &rateLimiter{
		cfg: cfg, refused: refused, now: time.Now,
		byAccount: map[string]*ratelimit.Buckets{"command": ratelimit.New(cfg.AccountCommands), "query": ratelimit.New(cfg.AccountQueries)},
		byAddress: map[string]*ratelimit.Buckets{"command": ratelimit.New(cfg.AddressCommands), "query": ratelimit.New(cfg.AddressQueries)},
	}
}

// byAddressInterceptor spends the client address's budget, before identity:
// a flood without credentials is limited too.
func (l *rateLimiter) byAddressInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	class := requestClass(info.FullMethod)
	if class == "" {
		return handler(ctx, req)
	}
	addr := l.clientAddress(ctx)
	if ok, wait := l.byAddress[class].Take(ratelimit.AddressKey(addr), l.now()); !ok {
		l.refused.WithLabelValues(class, "address").Inc()
		return nil, exhausted(fmt.Sprintf("too many %ss from your address", class), wait)
	}
	return handler(ctx, req)
}

// byAccountInterceptor spends the caller's budget, once identity is known.
func (l *rateLimiter) byAccountInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	class := requestClass(info.FullMethod)
	account, ok := auth.Account(ctx)
	if class == "" || !ok {
		return handler(ctx, req)
	}
	if ok, wait := l.byAccount[class].Take(account, l.now()); !ok {
		l.refused.WithLabelValues(class, "account").Inc()
		return nil, exhausted(fmt.Sprintf("too many %ss from account %s", class, account), wait)
	}
	return handler(ctx, req)
}

// clientAddress is the client's address: the connection's peer, or, behind
// TrustedProxyHops proxies (or the in-process REST gateway, which appends
// the address it saw), an entry of X-Forwarded-For counted from the end.
func (l *rateLimiter) clientAddress(ctx context.Context) string {
	p, _ := peer.FromContext(ctx)
	addr := ""
	if p != nil && p.Addr != nil {
		addr = p.Addr.String()
	}
	hops := l.cfg.TrustedProxyHops
	if p != nil && p.Addr != nil && p.Addr.Network() == gatewayNetwork {
		hops++ // the gateway's own entry
	}
	if hops == 0 {
		return addr
	}
	md, _ := metadata.FromIncomingContext(ctx)
	var chain []string
	for _, v := range md.Get("x-forwarded-for") {
		for _, e := range strings.Split(v, ",") {
			chain = append(chain, strings.TrimSpace(e))
		}
	}
	if len(chain) < hops {
		return addr
	}
	return chain[len(chain)-hops]
}

// exhausted is RESOURCE_EXHAUSTED with when to retry (429 and Retry-After
// through the gateway).
func exhausted(what string, wait time.Duration) error {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	st := status.New(codes.ResourceExhausted, fmt.Sprintf("rate limit: %s; retry in %ds", what, secs))
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); err == nil {
		st = d
	}
	return st.Err()
}
