package eventlog_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/flagenv"
	"github.com/falcon-chat/falcon/libs/testenv"
)

// TestClientMetricsExportSarama: a client made from a Config with
// ClientMetrics has its request latency and traffic on /metrics, overall
// and per broker.
func TestClientMetricsExportSarama(t *testing.T) {
	brokers := testenv.Kafka(t)
	topic := testenv.Name(t, "metrics")
	testenv.CreateTopic(t, brokers, topic, 1)
	reg := prometheus.NewRegistry()
	cfg := eventlog.Config{Brokers: flagenv.List{brokers}, Topic: topic, Metrics: eventlog.ClientMetrics(reg)}
	client, err := cfg.Client("metrics-test")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.GetOffset(topic, 0, -1); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("the registry does not gather: %v", err)
	}
	seen := map[string]map[string]bool{} // family -> broker label values
	for _, mf := range mfs {
		seen[mf.GetName()] = map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "broker" {
					seen[mf.GetName()][l.GetValue()] = true
				}
			}
		}
	}
	for _, family := range []string{"sarama_request_latency_in_ms", "sarama_outgoing_byte_total", "sarama_incoming_byte_total", "sarama_requests_in_flight", "sarama_request_total"} {
		brokers, ok := seen[family]
		if !ok {
			t.Errorf("no %s among %v", family, seen)
			continue
		}
		if !brokers[""] || len(brokers) < 2 {
			t.Errorf("%s: broker labels %v, want the total (\"\") and at least one broker", family, brokers)
		}
	}
}
