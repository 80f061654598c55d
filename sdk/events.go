package sdk

import "sync"

// events runs callbacks one at a time, in the order they were queued, on
// its own goroutine: the network loops never wait for the app, and the app
// may call the SDK from a callback.
type events struct {
	mu     sync.Mutex // guards queue, closed
	queue  []func()
	wake   chan struct{}
	closed bool
	done   chan struct{}
}

func newEvents() *events {
	e := &events{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go e.run()
	return e
}

// post queues f; after close it is dropped.
func (e *events) post(f func()) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.queue = append(e.queue, f)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *events) run() {
	defer close(e.done)
	for {
		e.mu.Lock()
		q := e.queue
		e.queue = nil
		closed := e.closed
		e.mu.Unlock()
		for _, f := range q {
			f()
		}
		if closed && len(q) == 0 {
			return
		}
		if len(q) == 0 {
			<-e.wake
		}
	}
}

// close stops taking callbacks; what is queued still runs. It does not wait
// for that: it may be called from a callback.
func (e *events) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}
