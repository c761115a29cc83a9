//go:build integration

package telemetry

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bngbox/bngbox/pkg/session"
)

// Topology (all on loopback):
//
//	Telemetry (embedded broker) --bridge, QoS 1--> mosquitto :P <-- mosquitto_sub "central"
//	                             bbolt queue file                 (persistent session)

// upstream is a real mosquitto broker started by the test.
type upstream struct {
	t    *testing.T
	dir  string
	port int
	ca   string // set when the listener is TLS
	p    *proc
}

func newUpstream(t *testing.T) *upstream { return newUpstreamTLS(t, "", "") }

// newUpstreamTLS configures mosquitto with a TLS listener when cert is set.
func newUpstreamTLS(t *testing.T, cert, key string) *upstream {
	t.Helper()
	needBinary(t, "mosquitto")
	u := &upstream{t: t, dir: t.TempDir(), port: freePort(t), ca: cert}
	pw := filepath.Join(u.dir, "passwd")
	for _, c := range [][2]string{{"bngbox", "bridgepw"}, {"central", "centralpw"}} {
		args := []string{"-b", pw, c[0], c[1]}
		if _, err := os.Stat(pw); err != nil {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(needBinary(t, "mosquitto_passwd"), args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
		}
	}
	conf := fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous false
password_file %s
persistence true
persistence_location %s/
max_queued_messages 10000
log_dest stdout
log_type all
user root
`, u.port, pw, u.dir)
	if cert != "" {
		conf += fmt.Sprintf("certfile %s\nkeyfile %s\n", cert, key)
	}
	if err := os.WriteFile(filepath.Join(u.dir, "mosquitto.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u *upstream) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(u.port)) }

// start runs mosquitto and waits until it accepts connections.
func (u *upstream) start() {
	u.t.Helper()
	u.p = run(u.t, "mosquitto", "-c", filepath.Join(u.dir, "mosquitto.conf"))
	deadline := time.Now().Add(waitFor)
	for {
		c, err := net.DialTimeout("tcp", u.addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("mosquitto not listening on %s:\n%s", u.addr(), u.p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends mosquitto by PID with SIGTERM (it saves its persistence file).
func (u *upstream) stop() {
	u.t.Helper()
	if err := u.p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		u.t.Fatal(err)
	}
	u.p.wait()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// centralSub subscribes with a persistent session. When waitAck is false
// it does not wait for the SUBACK: mosquitto resends the messages that were
// in flight for the session before it (and next would skip them).
func centralSub(t *testing.T, u *upstream, waitAck bool) *proc {
	t.Helper()
	_, port := hostPort(t, u.addr())
	args := []string{"-d", "-v", "-c", "-i", "central", "-q", "1", "-h", "127.0.0.1", "-p", port,
		"-u", "central", "-P", "centralpw", "-t", "bngbox/#"}
	if u.ca != "" {
		args = append(args, "--cafile", u.ca)
	}
	p := run(t, "mosquitto_sub", args...)
	if waitAck {
		p.next(func(l string) bool { return strings.HasPrefix(l, "Subscribed (mid") }, "SUBACK")
	}
	return p
}

func TestIntegrationBridge(t *testing.T) {
	up := newUpstream(t)
	up.start()
	central := centralSub(t, up, true)

	tl := startTelemetry(t, Config{Bridge: &BridgeConfig{
		Address: up.addr(), Username: "bngbox", Password: "bridgepw",
		QueuePath: filepath.Join(t.TempDir(), "bridge.db"), RetryInterval: 100 * time.Millisecond,
	}})
	in := aliceInfo()
	tl.SessionEvent(session.Event{Kind: session.EventStart, Info: in})
	if _, p := central.message("bngbox/nas1/session/alice/state"); decode[State](t, p).State != Online {
		t.Fatalf("forwarded state: %s", p)
	}
	central.message("bngbox/nas1/session/alice/event")

	// Upstream outage: the central subscriber's session persists in mosquitto.
	central.kill()
	central.wait()
	up.stop()
	waitUntil(t, "the bridge to notice the outage", func() bool { return !tl.bridge.connected.Load() })

	const n = 500
	for i := 1; i <= n; i++ {
		in.Stats.RxBytes = uint64(i)
		tl.SessionEvent(session.Event{Kind: session.EventInterim, Info: in})
	}
	// The disk queue is written behind the publisher: wait for all 500.
	waitUntil(t, "500 messages in the disk queue", func() bool { return tl.bridge.queued.Load() >= n })

	up.start()
	central = centralSub(t, up, false)
	for i := 1; i <= n; i++ {
		_, p := central.message("bngbox/nas1/session/alice/usage")
		if got := decode[Usage](t, p).OctetsIn; got != uint64(i) {
			t.Fatalf("usage #%d: octets_in %d (out of order or duplicated)", i, got)
		}
	}
	// None twice: a marker sent after the 500 is the next message.
	tl.SessionEvent(session.Event{Kind: session.EventAuthFail, Info: session.Info{User: "alice"}, Source: "marker"})
	topic, p := central.message("bngbox/")
	for topic == "bngbox/nas1/session/alice/state" {
		// mosquitto sends the retained state for the new SUBSCRIBE, which
		// (not waiting for the SUBACK) may land after some of the 500.
		topic, p = central.message("bngbox/")
	}
	if topic != "bngbox/nas1/session/alice/event" || !strings.Contains(p, "marker") {
		t.Fatalf("after the 500: %s %s", topic, p)
	}
	waitUntil(t, "the bridge queue to drain", func() bool { return tl.bridge.queued.Load() == 0 })
	if got := tl.bridge.sent.Load(); got < n+3 {
		t.Fatalf("sent = %d, want >= %d", got, n+3)
	}
}

func TestIntegrationBridgeTLS(t *testing.T) {
	cert, key := selfSigned(t)
	up := newUpstreamTLS(t, cert, key)
	up.start()
	central := centralSub(t, up, true)
	tl := startTelemetry(t, Config{Bridge: &BridgeConfig{
		Address: up.addr(), Username: "bngbox", Password: "bridgepw", TLS: true, CAFile: cert,
		QueuePath: filepath.Join(t.TempDir(), "bridge.db"), RetryInterval: 100 * time.Millisecond,
	}})
	tl.SessionEvent(session.Event{Kind: session.EventStart, Info: aliceInfo()})
	central.message("bngbox/nas1/session/alice/state")
	central.message("bngbox/nas1/session/alice/event")
}

func TestIntegrationBridgeBadCredentials(t *testing.T) {
	up := newUpstream(t)
	up.start()
	tl := startTelemetry(t, Config{Bridge: &BridgeConfig{
		Address: up.addr(), Username: "bngbox", Password: "wrong",
		QueuePath: filepath.Join(t.TempDir(), "bridge.db"), RetryInterval: 100 * time.Millisecond,
	}})
	tl.SessionEvent(session.Event{Kind: session.EventStart, Info: aliceInfo()})
	up.p.next(func(l string) bool { return strings.Contains(l, "not authorised") }, "mosquitto refusing the bridge")
	// Refused upstream: nothing is lost, the two messages wait on disk.
	waitUntil(t, "2 messages in the disk queue", func() bool { return tl.bridge.queued.Load() == 2 })
	if tl.bridge.connected.Load() {
		t.Fatal("bridge connected with a wrong password")
	}
}
