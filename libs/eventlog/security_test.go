package eventlog_test

import (
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/falcon-chat/falcon/libs/broker"
	"github.com/falcon-chat/falcon/libs/eventlog"
	"github.com/falcon-chat/falcon/libs/testenv"
	"github.com/falcon-chat/falcon/libs/testpki"
	"github.com/falcon-chat/falcon/libs/tlsfiles"
)

// TestKafkaTLSAndSCRAM: against brokers that speak only TLS and require
// SCRAM-SHA-512, a service with the right CA and credentials creates its
// topics, produces and consumes; one without TLS, with the wrong password
// or trusting another CA gets nowhere.
func TestKafkaTLSAndSCRAM(t *testing.T) {
	testenv.SkipIfReal(t, "the brokers are started here with TLS and SASL")
	pki := testpki.New(t)
	serverTLS, err := tlsfiles.Server{CertFile: pki.ServerCert, KeyFile: pki.ServerKey}.Config(false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start("", "127.0.0.1:0", broker.WithTLS(serverTLS), broker.WithSASL(eventlog.SCRAMSHA512, "falcon", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	brokers := []string{b.Addr()}

	secure := eventlog.Security{TLS: true, TLSFiles: tlsfiles.Client{CAFile: pki.CAFile},
		SASLMechanism: eventlog.SCRAMSHA512, SASLUser: "falcon", SASLPassword: "s3cret"}
	cfg := eventlog.Config{Brokers: brokers, Topic: "secured", Security: secure}
	ctx := testenv.Context(t, 60*time.Second)
	if _, err := eventlog.EnsureTopics(ctx, &cfg, map[string]*sarama.TopicDetail{"secured": {NumPartitions: 1, ReplicationFactor: 1}}); err != nil {
		t.Fatalf("create topics over TLS and SCRAM: %v", err)
	}
	sc, err := cfg.Sarama("test-producer")
	if err != nil {
		t.Fatal(err)
	}
	sc.Producer.Return.Successes = true
	prod, err := sarama.NewSyncProducer(brokers, sc)
	if err != nil {
		t.Fatalf("producer over TLS and SCRAM: %v", err)
	}
	defer prod.Close()
	if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "secured", Value: sarama.StringEncoder("hello")}); err != nil {
		t.Fatal(err)
	}
	client, err := cfg.Client("test-consumer")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := consumer.ConsumePartition("secured", 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	select {
	case m := <-pc.Messages():
		if string(m.Value) != "hello" {
			t.Fatalf("consumed %q", m.Value)
		}
	case <-ctx.Done():
		t.Fatal("nothing consumed")
	}

	other := testpki.New(t)
	refused := map[string]eventlog.Security{
		"no TLS":         {SASLMechanism: eventlog.SCRAMSHA512, SASLUser: "falcon", SASLPassword: "s3cret"},
		"wrong password": {TLS: true, TLSFiles: tlsfiles.Client{CAFile: pki.CAFile}, SASLMechanism: eventlog.SCRAMSHA512, SASLUser: "falcon", SASLPassword: "guess"},
		"no SASL":        {TLS: true, TLSFiles: tlsfiles.Client{CAFile: pki.CAFile}},
		"another CA":     {TLS: true, TLSFiles: tlsfiles.Client{CAFile: other.CAFile}, SASLMechanism: eventlog.SCRAMSHA512, SASLUser: "falcon", SASLPassword: "s3cret"},
	}
	for name, s := range refused {
		t.Run(name, func(t *testing.T) {
			bad := eventlog.Config{Brokers: brokers, Topic: "secured", Security: s}
			sc, err := bad.Sarama("refused")
			if err != nil {
				t.Fatal(err)
			}
			sc.Net.DialTimeout, sc.Net.ReadTimeout = 2*time.Second, 2*time.Second
			sc.Metadata.Retry.Max = 0
			client, err := sarama.NewClient(brokers, sc)
			if err == nil {
				// Without SASL the connection opens; the broker refuses requests.
				_, err = client.Topics()
				if err == nil {
					err = client.RefreshMetadata("secured")
				}
				client.Close()
			}
			if err == nil {
				t.Fatal("served")
			}
		})
	}
}

func TestSecuritySettingsAreChecked(t *testing.T) {
	bad := []eventlog.Security{
		{TLSFiles: tlsfiles.Client{CAFile: "ca.pem"}},
		{SASLUser: "u", SASLPassword: "p"},
		{SASLMechanism: eventlog.SCRAMSHA512, SASLUser: "u"},
		{SASLMechanism: eventlog.Plain, SASLUser: "u", SASLPassword: "p"},
		{SASLMechanism: "GSSAPI", SASLUser: "u", SASLPassword: "p"},
	}
	for _, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}
