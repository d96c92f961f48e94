package alerts

import (
	"testing"
	"time"
)

// TestByTime: a timeline reads in the order things happened, not in the
// order rows were committed; entries of the same moment keep their stored
// order, and the stored slice is left as it was (the SLA clocks replay it).
func TestByTime(t *testing.T) {
	at := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		stored []Event
		want   []int64
	}{
		{"a delivery recorded after a later note", []Event{
			{ID: 1, At: at, Kind: "created"},
			{ID: 2, At: at.Add(2 * time.Minute), Kind: "note"},
			{ID: 3, At: at.Add(time.Minute), Kind: "notify_failed"},
		}, []int64{1, 3, 2}},
		{"same moment keeps stored order", []Event{
			{ID: 1, At: at, Kind: "created"},
			{ID: 2, At: at, Kind: "note"},
			{ID: 3, At: at, Kind: "acknowledged"},
		}, []int64{1, 2, 3}},
		{"empty", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := make([]int64, len(tc.stored))
			for i, e := range tc.stored {
				before[i] = e.ID
			}
			var got []int64
			for _, e := range ByTime(tc.stored) {
				got = append(got, e.ID)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("ByTime = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("ByTime = %v, want %v", got, tc.want)
				}
			}
			for i, e := range tc.stored {
				if e.ID != before[i] {
					t.Fatalf("the stored timeline was reordered: %v", tc.stored)
				}
			}
		})
	}
}
