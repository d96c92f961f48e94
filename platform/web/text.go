package web

// CSVSafe defuses spreadsheet formula injection: a cell starting with
// = + - @, a tab or a carriage return is prefixed with a quote so that
// spreadsheet programs show it as text.
func CSVSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}
