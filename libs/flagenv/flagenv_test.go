package flagenv

import (
	"flag"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"default", nil, nil, "def"},
		{"env", nil, map[string]string{"FALCON_KAFKA_BROKERS": "env"}, "env"},
		{"flag beats env", []string{"--kafka-brokers=flag"}, map[string]string{"FALCON_KAFKA_BROKERS": "env"}, "flag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			v := fs.String("kafka-brokers", "def", "")
			if err := Parse(fs, tc.args); err != nil {
				t.Fatal(err)
			}
			if *v != tc.want {
				t.Fatalf("got %q, want %q", *v, tc.want)
			}
		})
	}
	t.Setenv("FALCON_N", "x")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Int("n", 1, "")
	if err := Parse(fs, nil); err == nil {
		t.Fatal("a malformed variable was accepted")
	}
}
