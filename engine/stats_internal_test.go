package engine

import (
	"testing"
	"time"
)

func TestRateWindow(t *testing.T) {
	var w rateWindow
	t0 := time.Unix(1000, 0)
	if r := w.perSecond(t0, 0); r != 0 {
		t.Errorf("empty window: %v", r)
	}
	// 100 tokens per second for 5 s.
	for i := 0; i <= 5; i++ {
		w.record(t0.Add(time.Duration(i)*time.Second), uint64(100*i))
		w.record(t0.Add(time.Duration(i)*time.Second+time.Millisecond), uint64(100*i+1)) // same second: ignored
	}
	if r := w.perSecond(t0.Add(5*time.Second), 500); r != 100 {
		t.Errorf("rate %v, want 100", r)
	}
	// Idle for longer than the window: 0.
	if r := w.perSecond(t0.Add(30*time.Second), 500); r != 0 {
		t.Errorf("idle rate %v", r)
	}
	// The oldest sample ages out: 20 s later at 50 tokens/s.
	for i := 20; i <= 32; i++ {
		w.record(t0.Add(time.Duration(i)*time.Second), uint64(500+50*(i-20)))
	}
	if r := w.perSecond(t0.Add(32*time.Second), 500+50*12); r != 50 {
		t.Errorf("rate %v, want 50", r)
	}
}
