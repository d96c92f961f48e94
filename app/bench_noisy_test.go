package main

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"
)

func TestBenchOnlyFlag(t *testing.T) {
	for _, args := range [][]string{
		{"--only", "nosy"},
		{"--only", "provision"},
		{"--only", "noisy", "--tenants", "1"},
	} {
		c := newBenchCommand()
		c.SetArgs(args)
		c.SetOut(&bytes.Buffer{})
		c.SetErr(&bytes.Buffer{})
		if err := c.Execute(); err == nil || !isUserError(err) {
			t.Errorf("bench %v: got %v, want a usage error", args, err)
		}
	}
}

// TestPacedCallsEachSlotOnce: both modes call every slot exactly once, with
// due times on the schedule, and return only when all calls have.
func TestPacedCallsEachSlotOnce(t *testing.T) {
	for _, keep := range []bool{true, false} {
		const total = 500
		var mu sync.Mutex
		seen := map[int]time.Time{}
		start := time.Now()
		paced(context.Background(), 1e6, total, 4, keep, func(i int, due time.Time) {
			mu.Lock()
			defer mu.Unlock()
			if _, dup := seen[i]; dup {
				t.Errorf("keep=%v: slot %d called twice", keep, i)
			}
			seen[i] = due
		})
		if len(seen) != total {
			t.Fatalf("keep=%v: %d slots called, want %d", keep, len(seen), total)
		}
		for i := 1; i < total; i++ {
			if !seen[i].After(seen[i-1]) || seen[i].Before(start) {
				t.Fatalf("keep=%v: slot %d due %v, after slot %d's %v", keep, i, seen[i], i-1, seen[i-1])
			}
		}
	}
}
