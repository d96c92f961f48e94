package slas

import "time"

// mailHour is the client's local hour at which its monthly report is sent.
const mailHour = 8

// mailGrace is how long after its send time a month's report is still
// sent, should the platform have been down: past it the month is let go
// (the report stays downloadable), so a long outage never ends in a burst
// of stale mail, and nothing reads the clients' schemas for the rest of the
// month.
const mailGrace = 7 * 24 * time.Hour

// sendTime is 08:00 on the first working day (Monday to Friday) of the
// given month, on the wall clock of loc.
func sendTime(year int, month time.Month, loc *time.Location) time.Time {
	day := time.Date(year, month, 1, mailHour, 0, 0, 0, loc)
	for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
		day = day.AddDate(0, 0, 1)
	}
	return day
}

// reportDue says whether the client in zone loc is due its previous
// month's report at now, and which month that is (its first day, UTC, as
// Reports.Month takes it): due from 08:00 of this month's first working
// day on its own clock, for mailGrace, unless lastSent ("2006-01", the
// newest month recorded for the client) is already that month or later.
func reportDue(now time.Time, loc *time.Location, lastSent string) (time.Time, bool) {
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	at := sendTime(local.Year(), local.Month(), loc)
	prev := time.Date(local.Year(), local.Month()-1, 1, 0, 0, 0, 0, time.UTC)
	if now.Before(at) || !now.Before(at.Add(mailGrace)) {
		return prev, false
	}
	return prev, lastSent < prev.Format("2006-01")
}

// reportedMonthEnd is the earliest moment, in any time zone, at which the
// month now reports on ended: the first of now's month at midnight in
// UTC+14. A client created after it did not exist during that month
// anywhere (at worst, in zones far west, for its last hours), so it gets
// no report of it: onboarding on the 2nd mails no empty report of last month.
func reportedMonthEnd(now time.Time) time.Time {
	ahead := now.UTC().Add(14 * time.Hour)
	return time.Date(ahead.Year(), ahead.Month(), 1, 0, 0, 0, 0, time.UTC).Add(-14 * time.Hour)
}

// mailWindowOpen reports whether any time zone's client could be due a
// report at now: the zones' offsets run from UTC−12 to UTC+14, and the
// window of any zone between two whole-hour offsets lies within theirs. The
// periodic search reads no client outside it.
func mailWindowOpen(now time.Time) bool {
	for off := -12; off <= 14; off++ {
		if _, due := reportDue(now, time.FixedZone("", off*3600), ""); due {
			return true
		}
	}
	return false
}
