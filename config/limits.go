package config

import (
	"fmt"
	"math"
)

// Limits are the rate limits of ingestion: token buckets per API key, per
// client and per agent credential, held in each process's memory (with N
// replicas a sender may reach N times these). The defaults are far above
// what an honest sender does, and well below what one process can store,
// so that one client's flood is answered 429 cheaply instead of taking the
// capacity every other client shares.
type Limits struct {
	// IngestPerKey counts requests to the alert API per API key: one
	// integration (an Alertmanager, a script) that runs away.
	IngestPerKey Rate `mapstructure:"ingest_per_key"`
	// IngestPerClient counts the same requests per client, whichever of
	// its keys they carry, so that more keys do not mean more capacity.
	IngestPerClient Rate `mapstructure:"ingest_per_client"`
	// IngestAlertsPerClient counts alerts, not requests: a batch or an
	// Alertmanager group of 500 costs 500 (at most the burst).
	IngestAlertsPerClient Rate `mapstructure:"ingest_alerts_per_client"`
	// CheckinsPerEndpoint counts agent check-ins per endpoint credential.
	CheckinsPerEndpoint Rate `mapstructure:"checkins_per_endpoint"`
	// APIPerToken counts staff API requests per personal token: one script
	// that runs away does not take the console's capacity.
	APIPerToken Rate `mapstructure:"api_per_token"`
	// MaxKeys bounds the buckets each limit keeps in memory (least recently
	// used dropped first; a dropped bucket starts full again).
	MaxKeys int `mapstructure:"max_keys"`
}

// Rate is one token bucket: Rate tokens a second, up to Burst at once.
type Rate struct {
	Rate  float64 `mapstructure:"rate"`
	Burst int     `mapstructure:"burst"`
}

func (l Limits) validate() error {
	for _, r := range []struct {
		key string
		r   Rate
	}{
		{"ingest_per_key", l.IngestPerKey}, {"ingest_per_client", l.IngestPerClient},
		{"ingest_alerts_per_client", l.IngestAlertsPerClient}, {"checkins_per_endpoint", l.CheckinsPerEndpoint},
		{"api_per_token", l.APIPerToken},
	} {
		// Zero would refuse everything, and a rate too small to refill
		// within a day is a typo; neither is a way to switch limits off.
		if math.IsNaN(r.r.Rate) || r.r.Rate < 1.0/86400 || r.r.Rate > 1e6 || r.r.Burst < 1 || r.r.Burst > 1e7 {
			return fmt.Errorf("%w: limits.%s must have a rate of 0.00002-1000000 per second and a burst of 1-10000000, not %g and %d",
				ErrInvalid, r.key, r.r.Rate, r.r.Burst)
		}
	}
	if l.MaxKeys < 100 || l.MaxKeys > 10_000_000 {
		return fmt.Errorf("%w: limits.max_keys must be 100-10000000, not %d", ErrInvalid, l.MaxKeys)
	}
	return nil
}
