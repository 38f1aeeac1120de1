package deploycheck

import (
	"os"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

// restRoute is one REST route of proto/falcon/v1/http.yaml.
type restRoute struct{ method, path, service string }

// restRoutes are the REST routes, with the service that serves each
// (ThreadCommandService: write-api; ThreadQueryService: read-api), and the
// stream of server-sent events.
func restRoutes(t *testing.T) []restRoute {
	t.Helper()
	b, err := os.ReadFile("../proto/falcon/v1/http.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		HTTP struct {
			Rules []map[string]any `json:"rules"`
		} `json:"http"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	out := []restRoute{{"GET", "/v1/events:stream", "read-api"}}
	for _, r := range doc.HTTP.Rules {
		selector, _ := r["selector"].(string)
		service := "read-api"
		if strings.HasPrefix(selector, "falcon.v1.ThreadCommandService.") {
			service = "write-api"
		}
		for _, m := range []string{"get", "post", "patch", "delete", "put"} {
			if p, ok := r[m].(string); ok {
				out = append(out, restRoute{strings.ToUpper(m), p, service})
			}
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d REST routes in http.yaml", len(out))
	}
	return out
}

// httpBackend is the Service and port the HTTPRoutes send a request to.
func httpBackend(routes []*gatewayv1.HTTPRoute, method, path string) (string, int32, bool) {
	for _, r := range routes {
		for _, rule := range r.Spec.Rules {
			for _, m := range rule.Matches {
				if m.Method != nil && string(*m.Method) != method || m.Path == nil || m.Path.Value == nil {
					continue
				}
				v := *m.Path.Value
				exact := m.Path.Type != nil && *m.Path.Type == gatewayv1.PathMatchExact
				if exact && path != v || !exact && !strings.HasPrefix(path, v) {
					continue
				}
				if len(rule.BackendRefs) != 1 || rule.BackendRefs[0].Port == nil {
					return "", 0, false
				}
				b := rule.BackendRefs[0]
				return string(b.Name), int32(*b.Port), true
			}
		}
	}
	return "", 0, false
}

// servicePort says whether the rendering has the Service name, serving
// app, with the port (by number or name).
func servicePort(m *manifests, name, app string, number int32, portName string) bool {
	for _, s := range m.services {
		if s.Name != name || s.Labels["app.kubernetes.io/name"] != app {
			continue
		}
		for _, p := range s.Spec.Ports {
			if number != 0 && p.Port == number || portName != "" && p.Name == portName {
				return true
			}
		}
	}
	return false
}

// TestRoutesReachTheRightService: the HTTPRoute sends every REST command
// to write-api's REST port and every query and stream to read-api's, by
// method and path; the GRPCRoute and the Ingress send each gRPC service to
// its own.
func TestRoutesReachTheRightService(t *testing.T) {
	routes := restRoutes(t)
	checked := 0
	for _, m := range renderings(t) {
		if len(m.httpRoutes) > 0 {
			checked++
			for _, r := range routes {
				name, port, ok := httpBackend(m.httpRoutes, r.method, r.path)
				if !ok || !servicePort(m, name, r.service, port, "http") || port != 8080 {
					t.Errorf("%s: %s %s reaches %s:%d, want %s's REST port", m.source, r.method, r.path, name, port, r.service)
				}
			}
			if _, _, ok := httpBackend(m.httpRoutes, "PUT", "/v1/threads"); ok {
				t.Errorf("%s: the HTTPRoute routes a method no route has", m.source)
			}
		}
		grpcServices := map[string]string{"falcon.v1.ThreadCommandService": "write-api", "falcon.v1.ThreadQueryService": "read-api"}
		for _, gr := range m.grpcRoutes {
			for _, rule := range gr.Spec.Rules {
				for _, match := range rule.Matches {
					app := grpcServices[*match.Method.Service]
					b := rule.BackendRefs[0]
					if app == "" || !servicePort(m, string(b.Name), app, int32(*b.Port), "grpc") {
						t.Errorf("%s: GRPCRoute sends %s to %s:%d", m.source, *match.Method.Service, b.Name, *b.Port)
					}
				}
			}
		}
		for _, ing := range m.ingresses {
			checkIngress(t, m, ing, grpcServices)
		}
	}
	if checked == 0 {
		t.Fatal("no rendering has an HTTPRoute")
	}
}

func checkIngress(t *testing.T, m *manifests, ing *networkingv1.Ingress, services map[string]string) {
	t.Helper()
	for _, rule := range ing.Spec.Rules {
		for _, p := range rule.HTTP.Paths {
			service := strings.Trim(p.Path, "/")
			app := services[service]
			b := p.Backend.Service
			if app == "" || b == nil || !servicePort(m, b.Name, app, b.Port.Number, b.Port.Name) {
				t.Errorf("%s: Ingress %s sends %s to %v, want %s's gRPC port", m.source, ing.Name, p.Path, b, app)
			}
		}
	}
}
