package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("server:\n  addr: 127.0.0.1:9000\ndatabase:\n  max_conns: 7\nlog:\n  level: debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SWITCHBOARD_DATABASE_MAX_CONNS", "9")
	t.Setenv("SWITCHBOARD_SERVER_CONSOLE_HOSTS", "console.msp.example,localhost")
	flags := pflag.NewFlagSet("t", pflag.ContinueOnError)
	flags.String("addr", "", "")
	if err := flags.Parse([]string{"--addr", "127.0.0.1:9100"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file, flags, map[string]string{"addr": "server.addr"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Addr != "127.0.0.1:9100" {
		t.Errorf("flag should win: addr = %q", c.Server.Addr)
	}
	if c.Database.MaxConns != 9 {
		t.Errorf("env should beat file: max_conns = %d", c.Database.MaxConns)
	}
	if c.Log.Level != "debug" {
		t.Errorf("file should beat default: level = %q", c.Log.Level)
	}
	if c.Log.Format != "text" || c.Database.DataDir != ".data/postgres" {
		t.Errorf("defaults not applied: %+v", c)
	}
	if len(c.Server.ConsoleHosts) != 2 || c.Server.ConsoleHosts[0] != "console.msp.example" {
		t.Errorf("console hosts from env = %q", c.Server.ConsoleHosts)
	}
}

func TestLoadRejects(t *testing.T) {
	cases := []struct{ env, value string }{
		{"SWITCHBOARD_SERVER_ADDR", "nonsense"},
		{"SWITCHBOARD_LOG_FORMAT", "xml"},
		{"SWITCHBOARD_DATABASE_MAX_CONNS", "0"},
		{"SWITCHBOARD_DATABASE_TENANTS_PER_CONNECTION", "-1"},
		{"SWITCHBOARD_JOBS_TIMEOUT", "0s"},
		{"SWITCHBOARD_JOBS_TIMEOUT", "soon"},
		{"SWITCHBOARD_JOBS_OUTBOX_WORKERS", "0"},
	}
	for _, tc := range cases {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			if _, err := Load("", nil, nil); !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
		})
	}
	if _, err := Load("/does/not/exist.yaml", nil, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("missing file: want ErrInvalid, got %v", err)
	}
}

func TestExampleFileLoads(t *testing.T) {
	if _, err := Load("switchboard.example.yaml", nil, nil); err != nil {
		t.Fatal(err)
	}
}
