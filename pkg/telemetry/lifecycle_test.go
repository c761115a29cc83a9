package telemetry

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/session"
)

func retainedState(t *testing.T, tl *Telemetry, user string) State {
	t.Helper()
	msgs := tl.srv.Topics.Messages(tl.topics.state(user))
	if len(msgs) != 1 {
		t.Fatalf("retained %s: %d messages, want 1", tl.topics.state(user), len(msgs))
	}
	var st State
	if err := json.Unmarshal(msgs[0].Payload, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestStateSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry.db")
	cfg := Config{NAS: "nas1", Listen: "127.0.0.1:0", StorePath: path}
	tl, err := New(cfg, &users{}, discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Start(); err != nil {
		t.Fatal(err)
	}
	if tl.Addr() == "" || strings.HasSuffix(tl.Addr(), ":0") {
		t.Fatalf("Addr = %q, want the bound port", tl.Addr())
	}
	bob := aliceInfo()
	bob.User, bob.ID = "bob", "0000000c"
	tl.SessionEvent(session.Event{Kind: session.EventStart, Time: t0, Info: aliceInfo()})
	tl.SessionEvent(session.Event{Kind: session.EventStart, Time: t0, Info: bob})
	tl.SessionEvent(session.Event{Kind: session.EventStop, Time: t0, Info: bob, Cause: aaa.CauseUserRequest})
	// Reconcile is ordered after the queued events: a barrier, no sleeping.
	if n, err := tl.Reconcile(func(string, string) bool { return true }); err != nil || n != 0 {
		t.Fatalf("Reconcile = %d, %v", n, err)
	}
	if err := tl.Close(); err != nil {
		t.Fatal(err)
	}

	tl, err = New(cfg, &users{}, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	if err := tl.Start(); err != nil {
		t.Fatal(err)
	}
	if st := retainedState(t, tl, "alice"); st.State != Online || st.SessionID != "0000000a" {
		t.Fatalf("alice after restart = %+v, want online", st)
	}
	// Retained state never expires (mochi's default drops retained
	// messages after 24 h).
	if pk := tl.srv.Topics.Messages(tl.topics.state("alice"))[0]; pk.Expiry != 0 ||
		tl.srv.Options.Capabilities.MaximumMessageExpiryInterval != 0 {
		t.Fatalf("retained state expires: expiry %d, maximum %d", pk.Expiry, tl.srv.Options.Capabilities.MaximumMessageExpiryInterval)
	}
	if st := retainedState(t, tl, "bob"); st.State != Offline {
		t.Fatalf("bob after restart = %+v, want offline", st)
	}
	n, err := tl.Reconcile(func(user, sid string) bool { return false })
	if err != nil || n != 1 {
		t.Fatalf("Reconcile = %d, %v; want 1 (alice)", n, err)
	}
	if st := retainedState(t, tl, "alice"); st.State != Offline || !st.Reconciled {
		t.Fatalf("alice after reconcile = %+v, want reconciled offline", st)
	}
}

func TestMetrics(t *testing.T) {
	tl, _ := newUnstarted(t, Config{QueueLen: 1})
	tl.SetMetricsSource(func() SourceStats {
		return SourceStats{
			Sessions:      map[string]int{"active": 7, "starting": 1},
			SessionSetups: 42, AuthAccept: 40, AuthReject: 3,
			Drops:          map[string]uint64{`bad "cookie"`: 2},
			RADIUSRequests: 10, RADIUSLatencySeconds: 0.25,
		}
	})
	tl.SessionEvent(session.Event{Kind: session.EventInterim})
	tl.SessionEvent(session.Event{Kind: session.EventInterim}) // overflows
	w := httptest.NewRecorder()
	tl.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body := w.Body.String()
	for _, want := range []string{
		`bngbox_sessions{state="active"} 7`,
		`bngbox_session_setups_total 42`,
		`bngbox_session_auth_total{result="reject"} 3`,
		`bngbox_drops_total{reason="bad \"cookie\""} 2`,
		`bngbox_radius_latency_seconds_count 10`,
		`bngbox_mqtt_clients 0`,
		`bngbox_telemetry_queue_overflow_total 1`,
		`bngbox_telemetry_queue_length 1`,
		`bngbox_mqtt_logins_total{kind="customer",result="reject"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	sample := regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="([^"\\]|\\.)*"(,[a-z_]+="([^"\\]|\\.)*")*\})? [0-9.e+-]+$`)
	for _, l := range strings.Split(strings.TrimSpace(body), "\n") {
		if !strings.HasPrefix(l, "# ") && !sample.MatchString(l) {
			t.Errorf("bad exposition line %q", l)
		}
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestNewFailsOnBusyPortAndReleasesOthers(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, cfg := range []Config{
		{NAS: "n", Listen: busy.Addr().String()},
		{NAS: "n", Listen: "127.0.0.1:0", WSListen: busy.Addr().String()},
		{NAS: "n", WSListen: "127.0.0.1:0", MetricsListen: busy.Addr().String()},
	} {
		if tl, err := New(cfg, nil, nil); err == nil {
			tl.Close()
			t.Fatalf("New(%+v) succeeded on a busy port", cfg)
		}
	}
	// Close before Start releases every listener.
	tl, err := New(Config{NAS: "n", Listen: "127.0.0.1:0", WSListen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	addrs := []string{tl.Addr(), tl.WSAddr(), tl.MetricsAddr()}
	if err := tl.Close(); err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s still bound after Close: %v", a, err)
		}
		ln.Close()
	}
	if err := tl.Start(); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}

func TestMetricsEndpoint(t *testing.T) {
	tl, err := New(Config{NAS: "n", MetricsListen: "127.0.0.1:0"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	if err := tl.Start(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + tl.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "bngbox_telemetry_queue_overflow_total 0\n") {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
}

// TestCloseWithSilentClient: a client that connects and never sends
// CONNECT must not keep Close waiting (mochi waits for every connection).
func TestCloseWithSilentClient(t *testing.T) {
	tl, err := New(Config{NAS: "n", Listen: "127.0.0.1:0"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", tl.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte{0x10}) // the first byte of a CONNECT, and then nothing
	if err := tl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after Close")
	}
}
