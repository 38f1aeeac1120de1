package eventlog

import (
	"errors"
	"flag"
	"fmt"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"

	"github.com/falcon-chat/falcon/libs/tlsfiles"
)

// Security is how a service authenticates to Kafka and protects the
// connection: TLS (verifying the brokers, optionally presenting a client
// certificate) and SASL.
type Security struct {
	TLS           bool
	TLSFiles      tlsfiles.Client
	SASLMechanism string
	SASLUser      string
	SASLPassword  string
}

// SASL mechanisms Falcon speaks.
const (
	SCRAMSHA512 = "SCRAM-SHA-512"
	SCRAMSHA256 = "SCRAM-SHA-256"
	Plain       = "PLAIN"
)

// RegisterFlags adds the Kafka security flags to fs.
func (s *Security) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&s.TLS, "kafka-tls", false, "connect to the brokers over TLS")
	fs.StringVar(&s.TLSFiles.CAFile, "kafka-tls-ca-file", "", "PEM CA bundle the brokers' certificates are verified against (default: the system's)")
	fs.StringVar(&s.TLSFiles.CertFile, "kafka-tls-cert-file", "", "PEM client certificate, for brokers that require mutual TLS")
	fs.StringVar(&s.TLSFiles.KeyFile, "kafka-tls-key-file", "", "PEM private key of --kafka-tls-cert-file")
	fs.StringVar(&s.TLSFiles.ServerName, "kafka-tls-server-name", "", "name the brokers' certificates carry (default: each broker's host)")
	fs.StringVar(&s.SASLMechanism, "kafka-sasl-mechanism", "", "SASL authentication: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN (PLAIN only with --kafka-tls); empty: none")
	fs.StringVar(&s.SASLUser, "kafka-sasl-user", "", "SASL user name")
	fs.StringVar(&s.SASLPassword, "kafka-sasl-password", "", "SASL password (from a Secret: FALCON_KAFKA_SASL_PASSWORD)")
}

// Validate says what is wrong with the settings.
func (s Security) Validate() error {
	tlsFiles := s.TLSFiles.CAFile != "" || s.TLSFiles.CertFile != "" || s.TLSFiles.ServerName != ""
	switch {
	case tlsFiles && !s.TLS:
		return errors.New("--kafka-tls-* settings need --kafka-tls")
	case s.SASLMechanism == "" && (s.SASLUser != "" || s.SASLPassword != ""):
		return errors.New("--kafka-sasl-user and --kafka-sasl-password need --kafka-sasl-mechanism")
	case s.SASLMechanism != "" && (s.SASLUser == "" || s.SASLPassword == ""):
		return fmt.Errorf("--kafka-sasl-mechanism=%s needs --kafka-sasl-user and --kafka-sasl-password", s.SASLMechanism)
	case s.SASLMechanism == Plain && !s.TLS:
		return errors.New("--kafka-sasl-mechanism=PLAIN sends the password as it is: only with --kafka-tls")
	}
	switch s.SASLMechanism {
	case "", SCRAMSHA512, SCRAMSHA256, Plain:
		return nil
	}
	return fmt.Errorf("--kafka-sasl-mechanism=%q: want SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN", s.SASLMechanism)
}

// apply sets c's network security from s.
func (s Security) apply(c *sarama.Config) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.TLS {
		tc, err := s.TLSFiles.Config()
		if err != nil {
			return fmt.Errorf("--kafka-tls-*: %w", err)
		}
		c.Net.TLS.Enable, c.Net.TLS.Config = true, tc
	}
	if s.SASLMechanism == "" {
		return nil
	}
	c.Net.SASL.Enable = true
	c.Net.SASL.Handshake = true
	c.Net.SASL.User, c.Net.SASL.Password = s.SASLUser, s.SASLPassword
	switch s.SASLMechanism {
	case SCRAMSHA512:
		c.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA512} }
	case SCRAMSHA256:
		c.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
		c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA256} }
	case Plain:
		c.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	}
	return nil
}

// scramClient is sarama's SCRAM conversation over xdg-go/scram.
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (s *scramClient) Begin(user, password, authzID string) error {
	c, err := s.hash.NewClient(user, password, authzID)
	if err != nil {
		return fmt.Errorf("SCRAM client: %w", err)
	}
	s.conv = c.NewConversation()
	return nil
}

func (s *scramClient) Step(challenge string) (string, error) { return s.conv.Step(challenge) }

func (s *scramClient) Done() bool { return s.conv.Done() }
