package slas

import (
	"testing"
	"time"
)

// TestReportDue: the previous month's report is due from 08:00 on the
// first working day of the month on the client's clock, for a week, once.
func TestReportDue(t *testing.T) {
	zone := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	berlin, ny, auckland := zone("Europe/Berlin"), zone("America/New_York"), zone("Pacific/Auckland")
	at := func(s string, loc *time.Location) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name     string
		now      time.Time
		loc      *time.Location
		lastSent string
		month    string // the month due (or not)
		due      bool
	}{
		// June 2026 starts on a Monday.
		{"monday the 1st, 07:59", at("2026-06-01 07:59", berlin), berlin, "2026-04", "2026-05", false},
		{"monday the 1st, 08:00", at("2026-06-01 08:00", berlin), berlin, "2026-04", "2026-05", true},
		{"already sent", at("2026-06-01 09:00", berlin), berlin, "2026-05", "2026-05", false},
		{"never sent before", at("2026-06-01 09:00", berlin), berlin, "", "2026-05", true},
		// August 2026 starts on a Saturday: Monday the 3rd.
		{"saturday the 1st", at("2026-08-01 09:00", berlin), berlin, "2026-06", "2026-07", false},
		{"sunday the 2nd", at("2026-08-02 23:00", berlin), berlin, "2026-06", "2026-07", false},
		{"monday the 3rd", at("2026-08-03 08:00", berlin), berlin, "2026-06", "2026-07", true},
		// November 2026 starts on a Sunday: Monday the 2nd.
		{"sunday 1 November", at("2026-11-01 12:00", ny), ny, "2026-09", "2026-10", false},
		{"monday 2 November", at("2026-11-02 08:30", ny), ny, "2026-09", "2026-10", true},
		// January 2027 starts on a Friday: the report of December 2026.
		{"new year's day", at("2027-01-01 08:00", berlin), berlin, "2026-11", "2026-12", true},
		// The same instant is due in one zone and not yet in another.
		{"13:00 UTC: Berlin is past 08:00", at("2026-06-01 13:00", time.UTC), berlin, "2026-04", "2026-05", true},
		{"13:00 UTC: New York is at 09:00", at("2026-06-01 13:00", time.UTC), ny, "2026-04", "2026-05", true},
		{"11:00 UTC: New York is at 07:00", at("2026-06-01 11:00", time.UTC), ny, "2026-04", "2026-05", false},
		// Auckland reaches June while UTC is still in May.
		{"31 May 20:00 UTC: Auckland is at 08:00 on 1 June", at("2026-05-31 20:00", time.UTC), auckland, "2026-04", "2026-05", true},
		{"nil zone is UTC", at("2026-06-01 08:00", time.UTC), nil, "", "2026-05", true},
		// A week of grace after an outage, then the month is let go.
		{"six days late", at("2026-06-07 08:00", berlin), berlin, "2026-04", "2026-05", true},
		{"a week late", at("2026-06-08 08:00", berlin), berlin, "2026-04", "2026-05", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			month, due := reportDue(tc.now, tc.loc, tc.lastSent)
			if month.Format("2006-01") != tc.month || due != tc.due {
				t.Errorf("reportDue = %s %v, want %s %v", month.Format("2006-01"), due, tc.month, tc.due)
			}
		})
	}
}

// TestMailWindow: the search reads clients only while some zone can be due.
func TestMailWindow(t *testing.T) {
	for _, tc := range []struct {
		now  string // UTC
		open bool
	}{
		{"2026-05-31 17:00", false}, // 07:00 on 1 June at UTC+14: nobody yet
		{"2026-05-31 18:00", true},  // 08:00 at UTC+14
		{"2026-06-05 12:00", true},
		{"2026-06-08 19:59", true}, // UTC−12 is still within its week
		{"2026-06-08 20:00", false},
		{"2026-06-20 12:00", false},
	} {
		now, _ := time.Parse("2006-01-02 15:04", tc.now)
		if got := mailWindowOpen(now); got != tc.open {
			t.Errorf("mailWindowOpen(%s) = %v, want %v", tc.now, got, tc.open)
		}
	}
}

// TestReportedMonthEnd: a client created after the reported month ended
// in the furthest-ahead zone is given no report of it.
func TestReportedMonthEnd(t *testing.T) {
	for _, tc := range []struct {
		name, now, want string // UTC
	}{
		{"the first days of June report on May, over at 10:00 UTC on 31 May", "2026-06-02 09:00", "2026-05-31 10:00"},
		{"still 31 May in UTC, but June at UTC+14 already", "2026-05-31 18:00", "2026-05-31 10:00"},
		{"January reports on December, over on 31 December", "2027-01-04 08:00", "2026-12-31 10:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now, _ := time.Parse("2006-01-02 15:04", tc.now)
			if got := reportedMonthEnd(now).Format("2006-01-02 15:04"); got != tc.want {
				t.Errorf("reportedMonthEnd(%s) = %s, want %s", tc.now, got, tc.want)
			}
		})
	}
}
