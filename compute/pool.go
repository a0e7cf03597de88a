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
type Pool struct {
	threads int
	mu      sync.Mutex // serializes Run
	wake    []chan struct{}
	wg      sync.WaitGroup
	quit    chan struct{}

	// Current job, read by workers between wake and wg.Done.
	job   Job
	total int
	chunk int
	next  atomic.Int64

	mm    matmulJob
	qj    quantJob
	tj    tileJob
	gargs []paddedArgs
}

// NewPool starts a pool of n threads (n ≤ 0: one per CPU).
func NewPool(n int) *Pool {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	p := &Pool{threads: n, quit: make(chan struct{}), gargs: make([]paddedArgs, n)}
	p.wake = make([]chan struct{}, n-1)
	for i := range p.wake {
		p.wake[i] = make(chan struct{}, 1)
		go p.worker(i+1, p.wake[i])
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
	}
}

func (p *Pool) worker(id int, wake chan struct{}) {
	for {
		select {
		case <-wake:
			p.drain(id)
			p.wg.Done()
		case <-p.quit:
			return
		}
	}
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
	helpers := min(len(p.wake), (total+chunk-1)/chunk-1)
	p.wg.Add(helpers)
	for i := 0; i < helpers; i++ {
		p.wake[i] <- struct{}{}
	}
	p.drain(0)
	p.wg.Wait()
	p.job = nil
}

// FuncJob adapts a function to Job.
type FuncJob func(worker, lo, hi int)

// Run implements Job.
func (f FuncJob) Run(worker, lo, hi int) { f(worker, lo, hi) }
