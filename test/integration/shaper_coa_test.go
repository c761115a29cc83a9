//go:build integration

package integration

// Shaping driven by RADIUS, measured with iperf3 through a real PPPoE
// session (topology of shaper_test.go plus FreeRADIUS of radius_test.go):
//
//	sub: loadgen --tun ── bng: bngbox ◄── FreeRADIUS (Access-Accept: Mikrotik-Rate-Limit 5M/10M)
//	     iperf3 -c              ▲
//	                            └── radclient CoA-Request (Mikrotik-Rate-Limit 1M/2M)
//	                            └── bngbox cli shaper restore <session id>

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// coaShapedUsers is the FreeRADIUS users file of this test: Mikrotik
// "rx/tx" is from the router's side, so 5M/10M is 10 Mbit/s down, 5 up.
const coaShapedUsers = `shaped Cleartext-Password := "secret"
	Mikrotik-Rate-Limit = "5M/10M"
`

// TestIntegrationShaperCoAIFB: a session authorized by FreeRADIUS with
// 10M/5M is measured with iperf3 in both directions (±10 %), a CoA-Request
// sent with radclient changes it to 2M/1M (measured again; same session id
// and interface; counters keep growing), and `bngbox cli shaper restore`
// returns it to 10M/5M (measured again). The upload method is the one this
// kernel has, the ifb fallback (`upstream: ifb`; no act_police here): the
// test fails if the daemon chose anything else. Police mode is measured in
// the VM lab.
func TestIntegrationShaperCoAIFB(t *testing.T) {
	requireRADIUSTools(t)
	l := newLab(t, LabOptions{
		AAA:    radiusAAA("radius", "0s"),
		Config: radiusConfig(t) + "shaper: {enabled: true, upstream: ifb}\n",
	})
	fr := newFreeRADIUS(t)
	if err := os.WriteFile(filepath.Join(fr.dir, "users"), []byte(coaShapedUsers), 0o644); err != nil {
		t.Fatal(err)
	}
	fr.start(l)
	d := l.StartDaemon()
	if !regexp.MustCompile(`shaper enabled"? upstream=ifb`).MatchString(d.Out.String()) {
		t.Fatalf("daemon did not start the shaper in ifb mode:\n%s", d.Out.String())
	}

	lg, ss := startShapedSession(t, l, d, "shaped", 10e6, 5e6, "--auth", "chap")
	if ss.ifb == "" {
		t.Fatalf("ifb mode, but the upload of %s is not redirected to an IFB", ss.ifname)
	}
	if a, ok := ss.info["auth_rates"].(map[string]any); !ok || a["down_bps"] != 10e6 || a["up_bps"] != 5e6 {
		t.Errorf("auth_rates = %v, want 10M/5M from the Access-Accept", ss.info["auth_rates"])
	}

	l.Start(l.Inet, "iperf3", "-s", "-B", inetAddr)
	time.Sleep(300 * time.Millisecond) // no readiness signal; iperf.run retries a refused connect
	ip3 := iperf{l: l, t: t, src: ss.ip}
	ip3.expect("10M down (Access-Accept)", true, 10e6)
	ip3.expect("5M up (Access-Accept)", false, 5e6)
	atCoA := l.Sessions()

	// CoA-Request: Mikrotik-Rate-Limit rx/tx = 1M up, 2M down.
	coa := fmt.Sprintf(`User-Name = "shaped", Acct-Session-Id = %q, Mikrotik-Rate-Limit = "1M/2M"`, ss.id)
	if out := radclient(l, "coa", coa); !strings.Contains(out, "Received CoA-ACK") {
		t.Fatalf("CoA-Request not acknowledged:\n%s", out)
	}
	l.WaitFor("rates 2M/1M after the CoA", 10*time.Second, func() bool {
		s := l.Sessions()
		return len(s) == 1 && hasRates(s[0], 2e6, 1e6)
	})
	waitClassRate(t, l, ss.ifb, "1Mbit")
	ip3.expect("2M down (CoA)", true, 2e6)
	ip3.expect("1M up (CoA)", false, 1e6)

	afterCoA := l.Sessions()
	sameSession(t, "CoA", ss, atCoA, afterCoA)
	if a, ok := afterCoA[0]["auth_rates"].(map[string]any); !ok || a["down_bps"] != 10e6 || a["up_bps"] != 5e6 {
		t.Errorf("auth_rates after CoA = %v, want the authorized 10M/5M kept", afterCoA[0]["auth_rates"])
	}

	if out, err := l.CLI("shaper", "restore", ss.id); err != nil {
		t.Fatalf("bngbox cli shaper restore %s: %v\n%s", ss.id, err, out)
	}
	l.WaitFor("rates back to 10M/5M", 10*time.Second, func() bool {
		s := l.Sessions()
		return len(s) == 1 && hasRates(s[0], 10e6, 5e6)
	})
	waitClassRate(t, l, ss.ifb, "5Mbit")
	ip3.expect("10M down (restored)", true, 10e6)
	ip3.expect("5M up (restored)", false, 5e6)
	sameSession(t, "restore", ss, afterCoA, l.Sessions())

	lg.Stop(10 * time.Second)
	l.WaitFor("session gone", 15*time.Second, func() bool { return len(l.Sessions()) == 0 })
	l.WaitFor("the session's class removed from "+ss.ifb, 15*time.Second, func() bool {
		out, err := l.Try(l.BNG, "tc", "class", "show", "dev", ss.ifb)
		return err != nil || (!strings.Contains(out, "class htb") && !strings.Contains(out, "tbf"))
	})
}

// sameSession checks that the session in now is the one of ss (id and
// interface) and that its byte counters grew since then (a reset would
// show as a drop).
func sameSession(t *testing.T, step string, ss shapedSession, then, now []map[string]any) {
	t.Helper()
	if len(now) != 1 || now[0]["id"] != ss.id || now[0]["ifname"] != ss.ifname {
		t.Fatalf("%s: session did not survive: was %s on %s, now %v", step, ss.id, ss.ifname, now)
	}
	for _, k := range []string{"rx_bytes", "tx_bytes"} {
		b, a := stat(then[0], k), stat(now[0], k)
		if a <= b {
			t.Errorf("%s: %s did not keep growing: %d then %d", step, k, b, a)
		}
		t.Logf("%s: %s %d then %d", step, k, b, a)
	}
}

// waitClassRate waits until the upload shaping on ifb (an HTB class, or a
// per-session tbf) shows rate: the change is applied by the shaper
// goroutine after the session recorded the new rates.
func waitClassRate(t *testing.T, l *Lab, ifb, rate string) {
	t.Helper()
	l.WaitFor(ifb+" at "+rate, 10*time.Second, func() bool {
		c, _ := l.Try(l.BNG, "tc", "class", "show", "dev", ifb)
		q, _ := l.Try(l.BNG, "tc", "qdisc", "show", "dev", ifb)
		return strings.Contains(c+q, "rate "+rate+" ")
	})
}
