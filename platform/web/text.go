package web

import (
	"errors"
	"strings"
)

// Reason turns an error wrapping one of sentinels into the sentence a form
// shows: the "sentinel: " prefix removed and the first letter capitalised.
func Reason(err error, sentinels ...error) string {
	msg := err.Error()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			msg = strings.TrimPrefix(msg, s.Error()+": ")
		}
	}
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return msg
}

// CSVSafe defuses spreadsheet formula injection: a cell starting with
// = + - @, a tab or a carriage return is prefixed with a quote so that
// spreadsheet programs show it as text.
func CSVSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}
