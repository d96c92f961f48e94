package audit

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"switchboard/platform/web"
)

// Formats an export can be written in.
const (
	FormatCSV    = "csv"
	FormatNDJSON = "ndjson"
)

// Export writes every entry matching f in format to w.
func Export(w io.Writer, format string, list func(Filter) ([]Entry, error), f Filter) error {
	switch format {
	case FormatCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{"id", "at", "actor", "action", "target", "summary", "client_ip"}); err != nil {
			return err
		}
		err := Each(list, f, func(e Entry) error {
			return cw.Write([]string{fmt.Sprint(e.ID), e.At.UTC().Format(time.RFC3339), web.CSVSafe(e.Actor), web.CSVSafe(e.Action),
				web.CSVSafe(e.Target), web.CSVSafe(e.Summary), web.CSVSafe(e.ClientIP)})
		})
		if err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	case FormatNDJSON:
		enc := json.NewEncoder(w)
		return Each(list, f, func(e Entry) error { return enc.Encode(e) })
	default:
		return fmt.Errorf("unknown export format %q (csv or ndjson)", format)
	}
}
