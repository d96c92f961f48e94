package agents

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what an agent reports; larger input is refused, not truncated.
const (
	maxHostname = 253
	maxOS       = 200
	maxMount    = 1024
	maxDisks    = 64
	maxUptime   = 100 * 365 * 24 * 3600 // a century, in seconds
)

// checkHostname trims and checks a reported hostname.
func checkHostname(h string) (string, error) {
	h = strings.TrimSpace(h)
	if h == "" || len(h) > maxHostname {
		return "", invalid("hostname must be 1-%d characters", maxHostname)
	}
	if !printable(h) || strings.ContainsRune(h, ' ') {
		return "", invalid("hostname %q contains spaces or control characters", h)
	}
	return h, nil
}

// checkOS trims and checks a reported operating system description.
func checkOS(os string) (string, error) {
	os = strings.TrimSpace(os)
	if utf8.RuneCountInString(os) > maxOS || !printable(os) {
		return "", invalid("os must be at most %d printable characters", maxOS)
	}
	return os, nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func percent(name string, v float64) error {
	if math.IsNaN(v) || v < 0 || v > 100 {
		return invalid("%s must be between 0 and 100, not %v", name, v)
	}
	return nil
}

// normalize checks a report and trims its text; every problem is found
// before anything is stored.
func (r *Report) normalize() error {
	var err error
	if r.Hostname, err = checkHostname(r.Hostname); err != nil {
		return err
	}
	if r.OS, err = checkOS(r.OS); err != nil {
		return err
	}
	if r.UptimeSeconds < 0 || r.UptimeSeconds > maxUptime {
		return invalid("uptime_seconds must be between 0 and %d, not %d", maxUptime, r.UptimeSeconds)
	}
	if err := percent("cpu_percent", r.CPUPercent); err != nil {
		return err
	}
	if err := percent("memory_percent", r.MemoryPercent); err != nil {
		return err
	}
	if len(r.Disks) > maxDisks {
		return invalid("at most %d disks", maxDisks)
	}
	seen := map[string]bool{}
	for i := range r.Disks {
		d := &r.Disks[i]
		if d.Mount == "" || len(d.Mount) > maxMount || !printable(d.Mount) {
			return invalid("disks[%d]: mount must be 1-%d printable bytes", i, maxMount)
		}
		if seen[d.Mount] {
			return invalid("disks[%d]: mount %q is listed twice", i, d.Mount)
		}
		seen[d.Mount] = true
		if err := percent("disks["+d.Mount+"].used_percent", d.UsedPercent); err != nil {
			return err
		}
	}
	if r.Disks == nil {
		r.Disks = []Disk{}
	}
	return nil
}
