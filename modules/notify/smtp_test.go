package notify

import (
	"net"
	"testing"

	"switchboard/platform/smtptest"
)

// startSMTP runs the shared loopback SMTP server (platform/smtptest).
func startSMTP(t *testing.T) (*smtptest.Server, *net.TCPAddr) {
	t.Helper()
	s := smtptest.Start(t)
	return s, s.Addr
}
