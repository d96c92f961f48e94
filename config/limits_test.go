package config

import (
	"strings"
	"testing"
)

// TestLimitsConfig: the defaults load and pass, the environment overrides
// them, and limits that would refuse everything are configuration errors.
func TestLimitsConfig(t *testing.T) {
	cfg, err := Load("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Limits.IngestPerKey != (Rate{Rate: 20, Burst: 300}) || cfg.Limits.IngestAlertsPerClient.Burst != 10000 || cfg.Limits.MaxKeys != 50000 {
		t.Errorf("defaults: %+v", cfg.Limits)
	}
	cases := []struct {
		env, value string
		ok         bool
	}{
		{"SWITCHBOARD_LIMITS_INGEST_PER_KEY_RATE", "5", true},
		{"SWITCHBOARD_LIMITS_CHECKINS_PER_ENDPOINT_BURST", "3", true},
		{"SWITCHBOARD_LIMITS_INGEST_PER_CLIENT_RATE", "0", false},
		{"SWITCHBOARD_LIMITS_INGEST_ALERTS_PER_CLIENT_BURST", "0", false},
		{"SWITCHBOARD_LIMITS_INGEST_PER_KEY_RATE", "-1", false},
		{"SWITCHBOARD_LIMITS_MAX_KEYS", "10", false},
	}
	for _, c := range cases {
		t.Run(c.env+"="+c.value, func(t *testing.T) {
			t.Setenv(c.env, c.value)
			_, err := Load("", nil, nil)
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "limits.") {
				t.Errorf("the error does not name the setting: %v", err)
			}
		})
	}
}
