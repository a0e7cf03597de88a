// Package compute runs the heavy numeric work of a forward pass on a
// persistent pool of worker goroutines: matrix products of quantized
// weights with activations, split over weight rows.
package compute

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Job is a unit of parallel work: Run handles items [lo, hi) on the given
// worker (0 ≤ worker < Pool.Threads()). Jobs are values kept by their owner
// and passed by pointer, so dispatching one allocates nothing.
type Job interface {
	Run(worker, lo, hi int)
}

// Pool is a fixed set of worker goroutines. Run is serialized: one job runs
// at a time, spread over all threads including the caller's.
//
// Dispatch is built for the many short jobs of a decode step: a worker
// that finished a job spins for a while on the job counter before it
// parks on its channel, and the caller spins until the helpers are done,
// so consecutive jobs start without a scheduler round trip.
type Pool struct {
	threads int
	mu      sync.Mutex // serializes Run
	quit    chan struct{}
	workers []*worker

	// Current job, published by the increment of gen.
	job     Job
	total   int
	chunk   int
	next    atomic.Int64
	gen     atomic.Uint64
	pending atomic.Int64 // helpers that have not finished the current job

	panicMu  sync.Mutex
	panicked any // the first panic of a piece of the current job

	mm    matmulJob
	qj    quantJob
	tj    tileJob
	gargs []paddedArgs
	tails [][]float32
}

type worker struct {
	wake   chan struct{}
	asleep atomic.Bool
	_      [48]byte
}

// spinLimit bounds how many times a worker polls for the next job before
// parking (tens of microseconds).
const spinLimit = 1 << 15

// NewPool starts a pool of n threads (n ≤ 0: one per CPU).
func NewPool(n int) *Pool {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	p := &Pool{threads: n, quit: make(chan struct{}), gargs: make([]paddedArgs, n), tails: make([][]float32, n)}
	for i := range p.tails {
		p.tails[i] = make([]float32, maxTileOutputs)
	}
	for i := 1; i < n; i++ {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		go p.work(i, w)
	}
	return p
}

// Threads returns the number of threads.
func (p *Pool) Threads() int { return p.threads }

// Close stops the workers.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.quit:
	default:
		close(p.quit)
		for _, w := range p.workers {
			if w.asleep.CompareAndSwap(true, false) {
				w.wake <- struct{}{}
			}
		}
	}
}

func (p *Pool) work(id int, w *worker) {
	var seen uint64 // gen is 0 until the first job, which may come before this goroutine runs
	for {
		// Wait for a new job: spin, then park.
		for spins := 0; p.gen.Load() == seen; spins++ {
			select {
			case <-p.quit:
				return
			default:
			}
			if spins < spinLimit {
				continue
			}
			if spins < spinLimit+64 {
				runtime.Gosched()
				continue
			}
			w.asleep.Store(true)
			if p.gen.Load() != seen && w.asleep.CompareAndSwap(true, false) {
				break // a job arrived before anyone saw us asleep
			}
			select {
			case <-w.wake:
			case <-p.quit:
				return
			}
			spins = 0
		}
		seen = p.gen.Load()
		p.safeDrain(id)
		p.pending.Add(-1)
	}
}

// safeDrain is drain that records a panic instead of crashing the
// process; runLocked raises it again on the caller's goroutine.
func (p *Pool) safeDrain(id int) {
	defer func() {
		if r := recover(); r != nil {
			p.panicMu.Lock()
			if p.panicked == nil {
				p.panicked = r
			}
			p.panicMu.Unlock()
			p.next.Store(int64(p.total)) // hand out no more pieces
		}
	}()
	p.drain(id)
}

func (p *Pool) drain(id int) {
	for {
		lo := int(p.next.Add(int64(p.chunk))) - p.chunk
		if lo >= p.total {
			return
		}
		p.job.Run(id, lo, min(lo+p.chunk, p.total))
	}
}

// Run calls job.Run over [0, total) in pieces of chunk items (chunk ≤ 0:
// chosen so each thread gets several pieces) and returns when all are done.
func (p *Pool) Run(job Job, total, chunk int) {
	if total <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.runLocked(job, total, chunk)
}

// minParallelWork is the least work, in multiply-adds, worth spreading over
// the threads: below it, handing pieces to helpers costs more than it
// saves (and on a busy machine a helper that is not running stalls the
// whole step).
const minParallelWork = 1 << 16

// RunWork is Run for a job of about work multiply-adds in all: a small job
// runs on the caller alone.
func (p *Pool) RunWork(job Job, total, chunk, work int) {
	if total <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.runSized(job, total, chunk, work)
}

// runSized is runLocked, or job.Run on the caller alone when work is small.
func (p *Pool) runSized(job Job, total, chunk, work int) {
	if work < minParallelWork {
		job.Run(0, 0, total)
		return
	}
	p.runLocked(job, total, chunk)
}

func (p *Pool) runLocked(job Job, total, chunk int) {
	if chunk <= 0 {
		chunk = max(1, total/(4*p.threads))
	}
	if p.threads == 1 || total <= chunk {
		job.Run(0, 0, total)
		return
	}
	p.job, p.total, p.chunk = job, total, chunk
	p.next.Store(0)
	// Every worker takes part (one that finds no piece left is done at
	// once); the increment of gen publishes the job.
	p.pending.Store(int64(len(p.workers)))
	p.gen.Add(1)
	for _, w := range p.workers {
		if w.asleep.CompareAndSwap(true, false) {
			w.wake <- struct{}{}
		}
	}
	p.safeDrain(0)
	for spins := 0; p.pending.Load() != 0; spins++ {
		if spins > spinLimit {
			runtime.Gosched()
		}
	}
	p.job = nil
	p.panicMu.Lock()
	r := p.panicked
	p.panicked = nil
	p.panicMu.Unlock()
	if r != nil {
		// Every thread has stopped working on the job: the panic can
		// unwind the caller, whose recover (if any) sees a quiet pool.
		panic(r)
	}
}

// FuncJob adapts a function to Job.
type FuncJob func(worker, lo, hi int)

// Run implements Job.
func (f FuncJob) Run(worker, lo, hi int) { f(worker, lo, hi) }
