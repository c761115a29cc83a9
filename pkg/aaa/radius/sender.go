package radius

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"layeh.com/radius"

	"github.com/bngbox/bngbox/pkg/aaa"
)

// A sender delivers spooled records: in order per session (one in flight
// per session), sessions in parallel up to MaxInFlight, pausing with
// backoff while no server answers.
type sender struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}
	limit  int

	mu         sync.Mutex
	queues     map[string][]*acctItem // per session FIFO; head may be in flight; guarded by mu
	ready      []string               // sessions whose head is waiting to be sent; guarded by mu
	active     int                    // sends in flight; guarded by mu
	pauseUntil time.Time              // guarded by mu
	pausedAt   time.Time              // when the last pause began; guarded by mu
	backoff    time.Duration          // guarded by mu

	acked atomic.Uint64
	// idle is closed (and replaced) whenever the queues become empty;
	// guarded by mu.
	idle chan struct{}
}

const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

func newSender(c *Client, items []*acctItem) *sender {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sender{
		c: c, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1),
		limit: c.cfg.MaxInFlight, queues: make(map[string][]*acctItem), idle: make(chan struct{}),
	}
	for _, it := range items {
		s.enqueueLocked(it)
	}
	s.wg.Add(1)
	go s.runLoop()
	return s
}

func (s *sender) enqueue(it *acctItem) {
	s.mu.Lock()
	s.enqueueLocked(it)
	s.mu.Unlock()
	s.poke()
}

// enqueueLocked appends it to its session's queue. s.mu must be held (or s
// not yet shared).
func (s *sender) enqueueLocked(it *acctItem) {
	q := s.queues[it.sid]
	if len(q) == 0 {
		s.ready = append(s.ready, it.sid)
	}
	s.queues[it.sid] = append(q, it)
}

func (s *sender) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *sender) runLoop() {
	defer s.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.mu.Lock()
		now := time.Now()
		for s.active < s.limit && len(s.ready) > 0 && !now.Before(s.pauseUntil) {
			sid := s.ready[0]
			s.ready = s.ready[1:]
			it := s.queues[sid][0]
			s.active++
			s.wg.Add(1)
			go s.send(it)
		}
		wait := time.Hour
		if len(s.ready) > 0 && now.Before(s.pauseUntil) {
			wait = s.pauseUntil.Sub(now)
		}
		s.mu.Unlock()
		t.Reset(wait)
		select {
		case <-s.wake:
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
	}
}

// send delivers one record (the head of its session's queue).
func (s *sender) send(it *acctItem) {
	defer s.wg.Done()
	c := s.c
	start := time.Now()
	b, _, err := c.acct.do(s.ctx, func(sv *server, id byte) ([]byte, error) {
		return encodeAcct(it.attrs, it.created, time.Now(), sv.secret, id)
	})
	if err == nil && radius.Code(b[0]) != radius.CodeAccountingResponse {
		c.badReplies.Add(1)
		err = ErrNoServer
	}
	if err == nil {
		if rerr := c.spool.remove(it); rerr != nil {
			c.log.Error("radius: acknowledged record stays in the spool (will be resent)", "acct_session_id", it.sid, slog.Any("err", rerr))
		}
		s.acked.Add(1)
	}
	var notify func(string)
	level := slog.LevelDebug
	s.mu.Lock()
	s.active--
	switch {
	case err == nil:
		s.backoff, s.pauseUntil = 0, time.Time{}
		q := s.queues[it.sid][1:]
		if len(q) == 0 {
			delete(s.queues, it.sid)
			if len(s.queues) == 0 {
				close(s.idle)
				s.idle = make(chan struct{})
			}
		} else {
			s.queues[it.sid] = q
			s.ready = append(s.ready, it.sid)
		}
	case s.ctx.Err() != nil:
		s.mu.Unlock()
		return
	default:
		// Sends that were already in flight when the pause began belong
		// to the same round of failures: grow the backoff once per round.
		if !start.Before(s.pausedAt) {
			s.backoff = min(max(2*s.backoff, minBackoff), maxBackoff)
			s.pausedAt = time.Now()
			s.pauseUntil = s.pausedAt.Add(s.backoff)
		}
		s.ready = append(s.ready, it.sid)
		it.failures++
		if it.failures == 1 {
			level = slog.LevelWarn // once per record; server health is logged by the transport
		}
		if it.typ == aaa.AcctStart && !it.notified && c.cfg.KillOnUnackedStart {
			it.notified = true
			if f := c.onUnacked.Load(); f != nil {
				notify = *f
			}
		}
	}
	backoff := s.backoff
	s.mu.Unlock()
	if err != nil {
		c.log.Log(context.Background(), level, "radius: accounting not acknowledged, kept in spool", "acct_session_id", it.sid,
			"acct_type", it.typ.String(), "retry_in", backoff, slog.Any("err", err))
	}
	if notify != nil {
		notify(it.sid)
	}
	s.poke()
}

// drain waits until every queued record is acknowledged or ctx ends.
func (s *sender) drain(ctx context.Context) error {
	for {
		s.mu.Lock()
		empty, idle := len(s.queues) == 0, s.idle
		s.mu.Unlock()
		if empty {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stop cancels in-flight sends (their records stay spooled) and waits.
func (s *sender) stop() {
	s.cancel()
	s.wg.Wait()
}
