//go:build integration

package telemetry

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/session"
)

func startTelemetry(t *testing.T, cfg Config) *Telemetry {
	t.Helper()
	if cfg.NAS == "" {
		cfg.NAS = "nas1"
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	cfg.Operators = []Account{{User: "noc", Password: "ops"}}
	tl, err := New(cfg, &users{pw: map[string]string{"alice": "secret", "bob": "hunter2"}}, discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Start(); err != nil {
		tl.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	return tl
}

func decode[T any](t *testing.T, payload string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(payload), &v); err != nil {
		t.Fatalf("payload %q: %v", payload, err)
	}
	return v
}

func TestIntegrationCustomerSeesOwnSession(t *testing.T) {
	store := filepath.Join(t.TempDir(), "telemetry.db")
	tl := startTelemetry(t, Config{StorePath: store})
	addr := tl.Addr()

	// bob's line is up before alice subscribes: a retained state of bob's exists.
	bob := aliceInfo()
	bob.User, bob.ID = "bob", "0000000c"
	tl.SessionEvent(session.Event{Kind: session.EventStart, Info: bob})

	alice, ack := sub(t, addr, "alice", "secret", false, "bngbox/nas1/session/alice/#")
	if !strings.HasSuffix(ack, ": 1") {
		t.Fatalf("alice SUBACK = %q, want QoS 1 granted", ack)
	}
	noc, _ := sub(t, addr, "noc", "ops", false, "bngbox/#")
	if _, p := noc.message("bngbox/nas1/session/bob/state"); decode[State](t, p).State != Online {
		t.Fatalf("operator: bob state %s", p)
	}

	in := aliceInfo()
	in.Started = time.Now().Add(-time.Second)
	tl.SessionEvent(session.Event{Kind: session.EventStart, Info: in})
	if _, p := alice.message("bngbox/nas1/session/alice/state"); decode[State](t, p).State != Online {
		t.Fatalf("state after start: %s", p)
	}
	if _, p := alice.message("bngbox/nas1/session/alice/event"); decode[Event](t, p).Event != "start" {
		t.Fatalf("event after start: %s", p)
	}
	in.Stats.RxBytes, in.Stats.TxBytes = 1<<40, 1<<41
	tl.SessionEvent(session.Event{Kind: session.EventInterim, Info: in})
	if _, p := alice.message("bngbox/nas1/session/alice/usage"); decode[Usage](t, p).OctetsOut != 1<<41 {
		t.Fatalf("usage: %s", p)
	}
	tl.SessionEvent(session.Event{Kind: session.EventStop, Info: in, Cause: aaa.CauseUserRequest, Duration: 90 * time.Second})
	alice.message("bngbox/nas1/session/alice/usage")
	_, p := alice.message("bngbox/nas1/session/alice/event")
	if e := decode[Event](t, p); e.Event != "stop" || e.Cause != "User-Request" || e.Duration == nil || *e.Duration != 90 {
		t.Fatalf("stop event: %s", p)
	}
	_, p = alice.message("bngbox/nas1/session/alice/state")
	if st := decode[State](t, p); st.State != Offline || st.Since == "" || st.Duration == nil || *st.Duration != 90 {
		t.Fatalf("state after stop: %s", p)
	}
	// The operator saw alice too.
	noc.message("bngbox/nas1/session/alice/state")

	// Nothing of bob's ever reached alice (bob's retained state was there
	// when she subscribed, and bob events happen in between).
	tl.SessionEvent(session.Event{Kind: session.EventInterim, Info: bob})
	noc.message("bngbox/nas1/session/bob/usage")
	tl.SessionEvent(session.Event{Kind: session.EventAuthFail, Info: session.Info{User: "alice"}, Source: "marker"})
	alice.message("bngbox/nas1/session/alice/event")
	if alice.received("bngbox/nas1/session/bob/") {
		t.Fatalf("alice received bob's messages:\n%s", alice.output())
	}

	// A late subscriber learns the offline state (retained) with its time.
	late, _ := sub(t, addr, "alice", "secret", false, "bngbox/nas1/session/alice/state")
	if _, p := late.message("bngbox/nas1/session/alice/state"); decode[State](t, p).State != Offline {
		t.Fatalf("late subscriber: %s", p)
	}
}

func TestIntegrationCustomerCannotReadOthers(t *testing.T) {
	tl := startTelemetry(t, Config{})
	addr := tl.Addr()
	bob := aliceInfo()
	bob.User, bob.ID = "bob", "0000000c"
	tl.SessionEvent(session.Event{Kind: session.EventStart, Info: bob})
	if _, err := tl.Reconcile(nil); err != nil { // barrier: bob's retained state exists
		t.Fatal(err)
	}
	for _, filter := range []string{
		"bngbox/nas1/session/bob/#",
		"bngbox/nas1/session/+/state",
		"#",
		"$SYS/#",
	} {
		t.Run(filter, func(t *testing.T) {
			// MQTT 5 gives the reason: 135 = not authorized.
			p, ack := sub(t, addr, "alice", "secret", true, filter)
			if !strings.HasSuffix(ack, ": 135") {
				t.Fatalf("SUBACK = %q, want 135 (not authorized)", ack)
			}
			p.kill()
			p.wait()
			if p.received("bngbox/nas1/session/bob") {
				t.Fatalf("alice received bob's retained state:\n%s", p.output())
			}
			// MQTT 3.1.1: 128 = failure.
			_, ack = sub(t, addr, "alice", "secret", false, filter)
			if !strings.HasSuffix(ack, ": 128") {
				t.Fatalf("3.1.1 SUBACK = %q, want 128", ack)
			}
		})
	}
}

func TestIntegrationLogins(t *testing.T) {
	tl := startTelemetry(t, Config{})
	addr := tl.Addr()
	for _, c := range []struct{ name, user, pw string }{
		{"wrong password", "alice", "wrong"},
		{"unknown user", "mallory", "x"},
		{"operator wrong password", "noc", "secret"},
		{"anonymous", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, ack := sub(t, addr, c.user, c.pw, false, "bngbox/#")
			if !strings.Contains(ack, "Connection error") && !strings.Contains(ack, "refused") {
				t.Fatalf("login %q/%q: %q, want refused", c.user, c.pw, ack)
			}
		})
	}
}

func TestIntegrationAnonymousSwitch(t *testing.T) {
	tl := startTelemetry(t, Config{Anonymous: true})
	p, ack := sub(t, tl.Addr(), "", "", false, "bngbox/#")
	if !strings.HasSuffix(ack, ": 1") {
		t.Fatalf("anonymous SUBACK = %q", ack)
	}
	tl.SessionEvent(session.Event{Kind: session.EventStart, Info: aliceInfo()})
	p.message("bngbox/nas1/session/alice/state")
	if out, err := pub(t, tl.Addr(), "", "", true, "bngbox/nas1/cmd/x", "x"); err == nil && !strings.Contains(out, "135") && !strings.Contains(strings.ToLower(out), "not authori") {
		t.Fatalf("anonymous publish accepted:\n%s", out)
	}
}

func TestIntegrationCustomerCannotPublish(t *testing.T) {
	tl := startTelemetry(t, Config{})
	addr := tl.Addr()
	tl.SessionEvent(session.Event{Kind: session.EventStart, Info: aliceInfo()})
	noc, _ := sub(t, addr, "noc", "ops", false, "bngbox/#", "forged/#")
	noc.message("bngbox/nas1/session/alice/state")

	for _, topic := range []string{"bngbox/nas1/session/alice/state", "bngbox/nas1/cmd/reboot", "forged/x"} {
		// MQTT 5: the PUBACK carries 135; 3.1.1: the broker disconnects.
		out, _ := pub(t, addr, "alice", "secret", true, topic, `{"state":"forged"}`, "-r")
		if !strings.Contains(out, "135") && !strings.Contains(strings.ToLower(out), "not authori") {
			t.Fatalf("v5 publish to %s as customer:\n%s", topic, out)
		}
		pub(t, addr, "alice", "secret", false, topic, `{"state":"forged"}`, "-r")
	}
	// The operator may publish commands (nothing handles them yet).
	if out, err := pub(t, addr, "noc", "ops", true, "bngbox/nas1/cmd/ping", "1"); err != nil {
		t.Fatalf("operator publish: %v\n%s", err, out)
	}
	noc.message("bngbox/nas1/cmd/ping")
	if noc.received("forged/") || strings.Contains(noc.output(), `{"state":"forged"}`) {
		t.Fatalf("a customer's publish was delivered:\n%s", noc.output())
	}
	if st := retainedState(t, tl, "alice"); st.State != Online {
		t.Fatalf("alice's retained state was overwritten: %+v", st)
	}
}

func TestIntegrationRestartAndReconcile(t *testing.T) {
	store := filepath.Join(t.TempDir(), "telemetry.db")
	tl := startTelemetry(t, Config{StorePath: store})
	tl.SessionEvent(session.Event{Kind: session.EventStart, Info: aliceInfo()})
	if _, err := tl.Reconcile(func(string, string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if err := tl.Close(); err != nil {
		t.Fatal(err)
	}

	tl = startTelemetry(t, Config{StorePath: store})
	p, _ := sub(t, tl.Addr(), "alice", "secret", false, "bngbox/nas1/session/alice/state")
	_, payload := p.message("bngbox/nas1/session/alice/state")
	if st := decode[State](t, payload); st.State != Online || st.SessionID != "0000000a" {
		t.Fatalf("retained after restart: %s", payload)
	}
	before := time.Now().UTC().Truncate(time.Second)
	n, err := tl.Reconcile(func(user, sid string) bool { return false })
	if err != nil || n != 1 {
		t.Fatalf("Reconcile = %d, %v", n, err)
	}
	_, payload = p.message("bngbox/nas1/session/alice/state")
	st := decode[State](t, payload)
	since, _ := time.Parse(time.RFC3339, st.Since)
	if st.State != Offline || !st.Reconciled || since.Before(before) {
		t.Fatalf("after reconcile: %s (want offline, reconciled, since >= %v)", payload, before)
	}
}

func TestIntegrationClientIDTakeover(t *testing.T) {
	tl := startTelemetry(t, Config{})
	addr := tl.Addr()
	h, port := hostPort(t, addr)
	noc := run(t, "mosquitto_sub", "-d", "-v", "-h", h, "-p", port, "-i", "dashboard", "-u", "noc", "-P", "ops", "-q", "1", "-t", "bngbox/#")
	noc.next(func(l string) bool { return strings.HasPrefix(l, "Subscribed (mid") }, "SUBACK")
	for _, id := range []string{"dashboard", "inline"} {
		out, err := pub(t, addr, "alice", "secret", false, "bngbox/nas1/session/alice/x", "x", "-i", id)
		if err == nil || !strings.Contains(out, "Connection Refused") {
			t.Fatalf("alice connected with client id %q:\n%s", id, out)
		}
	}
	// The operator's client is still there and the publisher still works.
	tl.SessionEvent(session.Event{Kind: session.EventStart, Info: aliceInfo()})
	noc.message("bngbox/nas1/session/alice/state")
}
