package session

import (
	"testing"
	"testing/synctest"
	"time"
)

// deferShaping holds a session-up shaping job while sessions keep coming
// up or are in setup, returns once none came up for shapeQuiet and none is
// in setup, and never holds a job longer than ShapeDefer; live changes and
// ShapeDefer 0 never wait.
func TestDeferShaping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &Manager{}
		m.SetConfig(Config{ShapeDefer: 2 * time.Second})
		wait := func(j shapeJob) time.Duration {
			start := time.Now()
			m.deferShaping(j)
			return time.Since(start)
		}

		// Nothing else came up lately.
		m.lastUpJob.Store(time.Now().Add(-time.Second).UnixNano())
		if d := wait(shapeJob{up: true, at: time.Now()}); d != 0 {
			t.Errorf("quiet: waited %v, want 0", d)
		}

		// A burst that ends 600ms from now: wait for it plus shapeQuiet.
		stop := make(chan struct{})
		m.lastUpJob.Store(time.Now().UnixNano())
		go func() { // a session comes up every 10ms until 600ms from now
			for i := 1; i <= 60; i++ {
				time.Sleep(10 * time.Millisecond)
				m.lastUpJob.Store(time.Now().UnixNano())
			}
			close(stop)
		}()
		if d, want := wait(shapeJob{up: true, at: time.Now()}), 600*time.Millisecond+shapeQuiet; d != want {
			t.Errorf("burst of 600ms: waited %v, want %v", d, want)
		}
		<-stop

		// A burst longer than ShapeDefer: the job waits ShapeDefer from
		// when it was queued, not more.
		done := make(chan struct{})
		m.lastUpJob.Store(time.Now().UnixNano())
		go func() {
			for {
				m.lastUpJob.Store(time.Now().UnixNano())
				select {
				case <-done:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}()
		queued := time.Now().Add(-500 * time.Millisecond)
		if d, want := wait(shapeJob{up: true, at: queued}), 1500*time.Millisecond; d != want {
			t.Errorf("endless burst: waited %v, want %v (ShapeDefer after queueing)", d, want)
		}
		if d := wait(shapeJob{at: time.Now()}); d != 0 {
			t.Errorf("live change waited %v", d)
		}
		close(done)
		time.Sleep(time.Second)

		// A session still negotiating holds the job too, even when none
		// came up lately.
		st := &Session{}
		st.state.Store(Starting)
		m.sessions = map[string]*Session{"x": st}
		go func() {
			time.Sleep(300 * time.Millisecond)
			st.state.Store(Active)
		}()
		if d := wait(shapeJob{up: true, at: time.Now()}); d < 300*time.Millisecond || d > 350*time.Millisecond {
			t.Errorf("session in setup for 300ms: waited %v", d)
		}

		m.SetConfig(Config{})
		if d := wait(shapeJob{up: true, at: time.Now()}); d != 0 {
			t.Errorf("ShapeDefer 0: waited %v", d)
		}
	})
}
