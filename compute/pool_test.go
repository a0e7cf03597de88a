package compute

import (
	"sync/atomic"
	"testing"
)

// A panic in any piece of a job reaches the caller of Run, after every
// thread has stopped working on the job, and the pool keeps working.
func TestPoolPanicReachesCaller(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	for round := 0; round < 20; round++ {
		var ran atomic.Int64
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("round %d: recovered %v", round, r)
				}
			}()
			p.Run(FuncJob(func(worker, lo, hi int) {
				ran.Add(1)
				if lo == 7 {
					panic("boom")
				}
			}), 64, 1)
			t.Fatalf("round %d: Run returned normally", round)
		}()
		var sum atomic.Int64
		p.Run(FuncJob(func(worker, lo, hi int) {
			for i := lo; i < hi; i++ {
				sum.Add(int64(i))
			}
		}), 100, 3)
		if sum.Load() != 4950 {
			t.Fatalf("round %d: after a panic the pool summed %d", round, sum.Load())
		}
	}
}
