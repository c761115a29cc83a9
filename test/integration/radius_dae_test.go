//go:build integration

package integration

// Replayed Dynamic Authorization requests (RFC 5176 §3.5, §2.3) against the
// daemon: the RADIUS lab of radius_test.go, plus a UDP socket the test
// opens inside the bng namespace to send a CoA-Request and then the very
// same datagram again, as an attacker who captured it would:
//
//	test: udp socket (in bng) ──► 127.0.0.1:3799 bngbox DAE ◄── radclient (bng)
//	sub: loadgen (user0001) ── veth ── bng: bngbox ── freeradius

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"layeh.com/radius"
)

// daeReplayWindow is radius.dae.replay-window in this test: short, so that
// a replay after it can be tried without a long wait.
const daeReplayWindow = 8 * time.Second

// dialUDPIn opens a UDP socket connected to addr inside network namespace
// ns. The socket stays in ns; the thread that entered ns is thrown away.
func dialUDPIn(t *testing.T, ns, addr string) *net.UDPConn {
	t.Helper()
	type result struct {
		c   *net.UDPConn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine, so no other
		// goroutine runs in ns.
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		a, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			ch <- result{err: err}
			return
		}
		c, err := net.DialUDP("udp", nil, a)
		ch <- result{c, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("udp socket in %s: %v", ns, r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return r.c
}

// coaRequest encodes a signed CoA-Request (RFC 5176 §2.3: Request
// Authenticator = MD5 over the packet with a zero authenticator + secret)
// that sets user's rates with Mikrotik-Rate-Limit (vendor 14988, type 8)
// and carries Event-Timestamp ts.
func coaRequest(t *testing.T, id byte, user, rateLimit string, ts time.Time) []byte {
	t.Helper()
	p := radius.New(radius.CodeCoARequest, []byte(coaSecret))
	p.Identifier = id
	p.Add(1, radius.Attribute(user)) // User-Name
	vsa, err := radius.NewVendorSpecific(14988, append([]byte{8, byte(2 + len(rateLimit))}, rateLimit...))
	if err != nil {
		t.Fatal(err)
	}
	p.Add(26, vsa)
	p.Add(55, radius.NewInteger(uint32(ts.Unix()))) // Event-Timestamp
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exchange sends b and returns the reply, or nil if none came within wait.
func exchange(t *testing.T, c *net.UDPConn, b []byte, wait time.Duration) []byte {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(wait))
	n, err := c.Read(buf)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return nil
		}
		t.Fatal(err)
	}
	return buf[:n]
}

// appliedRates lists the rates of every "DA request applied" line in the
// daemon's log, in order.
func appliedRates(l *Lab) []string {
	var out []string
	for _, m := range regexp.MustCompile(`msg="radius: DA request applied".* change="(?:[^"]* )?rates=([^ "]+)`).FindAllStringSubmatch(l.Daemon.Out.String(), -1) {
		out = append(out, m[1])
	}
	return out
}

// TestIntegrationRADIUSDAEReplay: a CoA-Request sent again verbatim within
// the replay window gets the first answer again and is not acted on a
// second time (a later CoA's rates stay); sent again after the window, its
// Event-Timestamp is stale and it is dropped without an answer. With
// require-event-timestamp, a request without one (which could not be told
// from a replay after the window) is dropped too.
func TestIntegrationRADIUSDAEReplay(t *testing.T) {
	requireRADIUSTools(t)
	cfg := strings.Replace(radiusConfig(t), "  dae:\n",
		"  dae:\n    replay-window: "+daeReplayWindow.String()+"\n    require-event-timestamp: true\n", 1)
	l := newLab(t, LabOptions{AAA: radiusAAA("radius", "0s"), Config: cfg})
	newFreeRADIUS(t).start(l)
	l.StartDaemon()
	l.StartLoadgen("-n", "1", "--auth", "chap", "--hold", "-1s")
	l.WaitFor("user0001 active with its RADIUS rates", 30*time.Second, func() bool {
		s := sessionBy(l, "user0001")
		return s != nil && s["state"] == "active" && rates(s) == "2e+07/5e+06"
	})
	c := dialUDPIn(t, l.BNG, daeAddr)

	// sentinel sends a fresh CoA with radclient and waits until the daemon
	// logged it as applied: every log line of an earlier request is in the
	// buffer by then.
	sentinel := func(limit, want string) {
		t.Helper()
		attrs := fmt.Sprintf(`User-Name = "user0001", Mikrotik-Rate-Limit = %q, Event-Timestamp = %d`, limit, time.Now().Unix())
		if out := radclient(l, "coa", attrs); !strings.Contains(out, "Received CoA-ACK") {
			t.Fatalf("CoA %s not acknowledged:\n%s", limit, out)
		}
		l.WaitFor("CoA "+limit+" in the log", 10*time.Second, func() bool {
			a := appliedRates(l)
			return len(a) > 0 && a[len(a)-1] == want
		})
	}

	// The original request: ACKed and applied.
	req := coaRequest(t, 42, "user0001", "1M/2M", time.Now())
	first := exchange(t, c, req, 5*time.Second)
	if first == nil || radius.Code(first[0]) != radius.CodeCoAACK || first[1] != 42 {
		t.Fatalf("CoA-Request: reply % x, want a CoA-ACK with ID 42", first)
	}
	if !radius.IsAuthenticResponse(first, req, []byte(coaSecret)) {
		t.Fatal("CoA-ACK does not verify against the request")
	}
	sentinel("3M/4M", "4M/3M")

	// The same datagram again, within the window: the cached answer, not
	// applied again (rates stay those of the later CoA).
	again := exchange(t, c, req, 5*time.Second)
	if !bytes.Equal(again, first) {
		t.Errorf("replay within the window: reply\n% x\nwant the first reply\n% x", again, first)
	}
	sentinel("5M/6M", "6M/5M")
	if got, want := strings.Join(appliedRates(l), " "), "2M/1M 4M/3M 6M/5M"; got != want {
		t.Errorf("applied CoAs %q, want %q (the replay must not be applied)", got, want)
	}

	// After the window: dropped, no answer.
	sent := time.Unix(int64(binary.BigEndian.Uint32(req[len(req)-4:])), 0) // Event-Timestamp is the last attribute
	time.Sleep(time.Until(sent.Add(daeReplayWindow + 2*time.Second)))
	if late := exchange(t, c, req, 3*time.Second); late != nil {
		t.Errorf("replay after the window answered: % x", late)
	}
	sentinel("7M/8M", "8M/7M")
	if got, want := strings.Join(appliedRates(l), " "), "2M/1M 4M/3M 6M/5M 8M/7M"; got != want {
		t.Errorf("applied CoAs %q, want %q (the late replay must not be applied)", got, want)
	}

	// No Event-Timestamp: dropped (require-event-timestamp).
	if out := radclient(l, "coa", `User-Name = "user0001", Mikrotik-Rate-Limit = "9M/9M"`); strings.Contains(out, "Received") {
		t.Errorf("CoA without Event-Timestamp answered:\n%s", out)
	}
	sentinel("10M/11M", "11M/10M")
	if got, want := strings.Join(appliedRates(l), " "), "2M/1M 4M/3M 6M/5M 8M/7M 11M/10M"; got != want {
		t.Errorf("applied CoAs %q, want %q (the CoA without Event-Timestamp must not be applied)", got, want)
	}
	if s := sessionBy(l, "user0001"); s == nil || rates(s) != "1.1e+07/1e+07" {
		t.Errorf("session after the replays: %v, want rates 11M/10M", s)
	}
}
