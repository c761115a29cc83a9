package telemetry

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/dataplane"
	"github.com/bngbox/bngbox/pkg/rate"
	"github.com/bngbox/bngbox/pkg/session"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var t0 = time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)

// recorder collects what the broker delivers to an inline subscriber.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) handler(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprintf("%s retain=%v %s", pk.TopicName, pk.FixedHeader.Retain, pk.Payload))
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.msgs
	r.msgs = nil
	return m
}

// newUnstarted builds a Telemetry without listeners and a recorder on "#".
// Tests drive t.handle directly: no goroutine, no timing.
func newUnstarted(t *testing.T, cfg Config) (*Telemetry, *recorder) {
	t.Helper()
	if cfg.NAS == "" {
		cfg.NAS = "nas1"
	}
	tl, err := New(cfg, &users{}, discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	tl.now = func() time.Time { return t0.Add(time.Hour) }
	rec := &recorder{}
	if err := tl.srv.Subscribe("bngbox/#", 1, rec.handler); err != nil {
		t.Fatal(err)
	}
	return tl, rec
}

func aliceInfo() session.Info {
	return session.Info{
		ID: "0000000a", Type: "pppoe", State: session.Active, Ifname: "ppp0", User: "alice",
		IP: netip.MustParseAddr("100.64.0.7"), IPv6: netip.MustParsePrefix("2001:db8:100::/56"),
		Started: t0, Rates: rate.Rates{Down: 100_000_000, Up: 20_000_000},
	}
}

func sequence() []session.Event {
	in := aliceInfo()
	interim := in
	interim.Stats = dataplane.Stats{RxBytes: 1 << 40, RxPackets: 123456789, TxBytes: 1<<63 + 5, TxPackets: 987654321}
	rated := interim
	rated.Rates = rate.Rates{Down: 1_000_000, Up: 1_000_000}
	return []session.Event{
		{Kind: session.EventAuthFail, Time: t0.Add(-time.Minute), Info: session.Info{User: "alice"}, Source: "bad password"},
		{Kind: session.EventStart, Time: t0, Info: in},
		{Kind: session.EventInterim, Time: t0.Add(5 * time.Minute), Info: interim},
		{Kind: session.EventRates, Time: t0.Add(6 * time.Minute), Info: rated, Source: "coa"},
		{Kind: session.EventStop, Time: t0.Add(90 * time.Minute), Info: rated, Cause: aaa.CauseLostCarrier, Duration: 90 * time.Minute},
		{Kind: session.EventStart, Time: t0.Add(100 * time.Minute), Info: func() session.Info {
			i := in
			i.ID, i.Started = "0000000b", t0.Add(100*time.Minute)
			return i
		}()},
	}
}

func golden(t *testing.T, name string, got []string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	text := strings.Join(got, "\n") + "\n"
	if *update {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != text {
		t.Fatalf("%s mismatch (-want +got):\n-%s\n+%s", path, want, text)
	}
}

func TestPublishSequenceGolden(t *testing.T) {
	tl, rec := newUnstarted(t, Config{})
	dirty := map[string][]byte{}
	for _, ev := range sequence() {
		tl.handle(item{ev: ev}, dirty)
	}
	golden(t, "sequence.golden", rec.take())
	if got := len(dirty); got != 1 {
		t.Fatalf("dirty states = %d, want 1 (alice)", got)
	}
}

func TestPublishTwoSessionsOneUser(t *testing.T) {
	tl, rec := newUnstarted(t, Config{})
	dirty := map[string][]byte{}
	a := aliceInfo()
	b := aliceInfo()
	b.ID, b.Started, b.IP = "0000000b", t0.Add(time.Minute), netip.MustParseAddr("100.64.0.8")
	tl.handle(item{ev: session.Event{Kind: session.EventStart, Time: t0, Info: a}}, dirty)
	tl.handle(item{ev: session.Event{Kind: session.EventStart, Time: t0.Add(time.Minute), Info: b}}, dirty)
	tl.handle(item{ev: session.Event{Kind: session.EventStop, Time: t0.Add(2 * time.Minute), Info: b,
		Cause: aaa.CauseUserRequest, Duration: time.Minute}}, dirty)
	// Session a is still up: the state goes back to a, not offline.
	st := tl.states["alice"]
	if st.State != Online || st.SessionID != a.ID {
		t.Fatalf("state after stopping one of two sessions = %+v, want online with %s", st, a.ID)
	}
	tl.handle(item{ev: session.Event{Kind: session.EventStop, Time: t0.Add(3 * time.Minute), Info: a,
		Cause: aaa.CauseUserRequest, Duration: 3 * time.Minute}}, dirty)
	if st := tl.states["alice"]; st.State != Offline {
		t.Fatalf("state after stopping both = %+v, want offline", st)
	}
	rec.take()
}

func TestPublishEscapedUser(t *testing.T) {
	tl, rec := newUnstarted(t, Config{})
	in := aliceInfo()
	in.User = "evil/+/#"
	tl.handle(item{ev: session.Event{Kind: session.EventStart, Time: t0, Info: in}}, map[string][]byte{})
	for _, m := range rec.take() {
		if !strings.HasPrefix(m, "bngbox/nas1/session/evil%2F%2B%2F%23/") {
			t.Fatalf("message outside the escaped user's subtree: %s", m)
		}
	}
}

func TestQueueOverflow(t *testing.T) {
	tl, _ := newUnstarted(t, Config{QueueLen: 3})
	for range 10 {
		tl.SessionEvent(session.Event{Kind: session.EventInterim, Info: aliceInfo()})
	}
	if got := tl.overflow.Load(); got != 7 {
		t.Fatalf("overflow = %d, want 7", got)
	}
	if got := len(tl.queue); got != 3 {
		t.Fatalf("queued = %d, want 3", got)
	}
}

func TestSessionEventAfterClose(t *testing.T) {
	tl, _ := newUnstarted(t, Config{QueueLen: 1})
	if err := tl.Close(); err != nil {
		t.Fatal(err)
	}
	tl.SessionEvent(session.Event{Kind: session.EventStart, Info: aliceInfo()}) // must not block or panic
	if _, err := tl.Reconcile(nil); err == nil {
		t.Fatal("Reconcile after Close succeeded")
	}
}

func TestReconcile(t *testing.T) {
	tl, rec := newUnstarted(t, Config{})
	dirty := map[string][]byte{}
	bob := aliceInfo()
	bob.User, bob.ID = "bob", "0000000c"
	carol := aliceInfo()
	carol.User, carol.ID = "carol", "0000000d"
	tl.states["alice"] = onlineState(aliceInfo(), t0) // as loaded from the store
	tl.states["bob"] = onlineState(bob, t0)
	tl.states["carol"] = offlineState(session.Event{Time: t0, Info: carol, Cause: aaa.CauseUserRequest})
	r := &reconcileReq{done: make(chan struct{}), active: func(user, sid string) bool {
		return user == "bob" && sid == "0000000c"
	}}
	tl.handle(item{rec: r}, dirty)
	if r.n != 1 {
		t.Fatalf("marked %d offline, want 1", r.n)
	}
	golden(t, "reconcile.golden", rec.take())
}

// TestOnlineCountsFromStartEvent: a session that took a while to come up
// (discovery at t0, network phase at t0+6s) is online from its start event,
// as accounting counts it: state since, usage session_time and the stop's
// duration agree.
func TestOnlineCountsFromStartEvent(t *testing.T) {
	tl, rec := newUnstarted(t, Config{})
	in := aliceInfo() // Started: t0 (discovery)
	up := t0.Add(6 * time.Second)
	for _, ev := range []session.Event{
		{Kind: session.EventStart, Time: up, Info: in},
		{Kind: session.EventInterim, Time: up.Add(10 * time.Second), Info: in},
		{Kind: session.EventStop, Time: up.Add(17 * time.Second), Info: in, Cause: aaa.CauseUserRequest, Duration: 17 * time.Second},
	} {
		tl.handle(item{ev: ev}, map[string][]byte{})
	}
	got := strings.Join(rec.take(), "\n")
	for _, want := range []string{
		`bngbox/nas1/session/alice/state retain=true {"state":"online","since":"2026-12-06T20:00:06Z"`,
		`bngbox/nas1/session/alice/usage retain=false {"time":"2026-12-06T20:00:16Z","user":"alice","session_id":"0000000a","session_time":10,`,
		`bngbox/nas1/session/alice/usage retain=false {"time":"2026-12-06T20:00:23Z","user":"alice","session_id":"0000000a","session_time":17,`,
		`"event":"stop","time":"2026-12-06T20:00:23Z","user":"alice","session_id":"0000000a","cause":"User-Request","cause_code":1,"duration":17}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in:\n%s", want, got)
		}
	}
}
