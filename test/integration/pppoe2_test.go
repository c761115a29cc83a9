//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pppLinks lists the ppp* interfaces in the bng namespace.
func (l *Lab) pppLinks() []string {
	l.t.Helper()
	out := l.Exec(l.BNG, "ip", "-o", "link", "show")
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		name, _, _ = strings.Cut(name, "@")
		if strings.HasPrefix(name, "ppp") {
			names = append(names, name)
		}
	}
	return names
}

// waitPPPLinks waits until exactly want ppp* interfaces exist in bng (the
// TUN dataplane deletes devices asynchronously).
func (l *Lab) waitPPPLinks(want int, timeout time.Duration) {
	l.t.Helper()
	var last []string
	deadline := time.Now().Add(timeout)
	for {
		if last = l.pppLinks(); len(last) == want {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("after %v: %d ppp interfaces in bng, want %d: %v", timeout, len(last), want, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// activeIPs returns the addresses of the active sessions.
func (l *Lab) activeIPs() []string {
	var ips []string
	for _, s := range l.Sessions() {
		if ip, _ := s["ip"].(string); s["state"] == "active" && ip != "" {
			ips = append(ips, ip)
		}
	}
	return ips
}

func (l *Lab) waitActive(n int, timeout time.Duration) {
	l.t.Helper()
	l.WaitFor(fmt.Sprintf("%d active sessions", n), timeout, func() bool { return len(l.activeIPs()) == n })
}

// pingFromInet pings every address from the inet namespace (count echoes
// each) and returns the addresses that did not answer every echo. Those
// are tried once more, so that one scheduling hiccup on a loaded machine
// is not taken for a broken session.
func (l *Lab) pingFromInet(ips []string, count int) []string {
	l.t.Helper()
	try := func(ips []string) []string {
		got, err := pingAll(l.Inet, ips, count, 5*time.Second)
		if err != nil {
			l.t.Fatalf("ping from inet: %v", err)
		}
		var failed []string
		for _, ip := range ips {
			if got[ip] != count {
				failed = append(failed, ip)
			}
		}
		return failed
	}
	failed := try(ips)
	if len(failed) > 0 {
		l.t.Logf("ping from inet: %d of %d addresses missed an echo; retrying them", len(failed), len(ips))
		failed = try(failed)
	}
	return failed
}

// reportInt extracts the number after prefix in a loadgen report.
func reportInt(t *testing.T, rep, prefix string) int {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(prefix) + `\s*(\d+)`).FindStringSubmatch(rep)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// stats returns `show stat json`.
func (l *Lab) stats() map[string]any {
	l.t.Helper()
	out, err := l.CLI("show", "stat", "json")
	if err != nil {
		l.t.Fatalf("show stat: %v\n%s", err, out)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		l.t.Fatalf("show stat json: %v\n%s", err, out)
	}
	return v
}

func (l *Lab) drops() map[string]float64 {
	out := map[string]float64{}
	m, _ := l.stats()["drops"].(map[string]any)
	for k, v := range m {
		out[k], _ = v.(float64)
	}
	return out
}

// test200 brings 200 subscribers up with one authentication protocol
// (server and client both restricted to it), pings the far side from each
// session and each session's address from the far side, hangs them all up
// and checks accounting.
func test200(t *testing.T, auth string) {
	const n = 200
	l := newLab(t, LabOptions{Users: n, Auth: []string{auth}})
	l.StartDaemon()
	begin := time.Now()
	lg := l.StartLoadgen("-n", strconv.Itoa(n), "--auth", auth, "--concurrency", "50",
		"--ping", inetAddr, "--ping-count", "2", "--hold", "-1s")
	l.waitActive(n, 45*time.Second)
	t.Logf("%d %s sessions active after %v", n, auth, time.Since(begin).Round(time.Millisecond))
	ips := l.activeIPs()
	if got := len(l.pppLinks()); got != n {
		t.Errorf("%d ppp interfaces in bng, want %d", got, n)
	}

	// Downstream-initiated traffic: every subscriber answers pings from inet.
	pingBegin := time.Now()
	if failed := l.pingFromInet(ips, 2); len(failed) > 0 {
		t.Errorf("%d subscriber addresses do not answer pings from inet: %v", len(failed), failed)
	}
	t.Logf("pinged %d subscriber addresses from inet in %v", len(ips), time.Since(pingBegin).Round(time.Millisecond))

	lg.Stop(30 * time.Second)
	rep := lg.Out.String()
	t.Logf("loadgen: %s", strings.TrimSpace(rep))
	if lg.ExitCode() != 0 || !strings.Contains(rep, fmt.Sprintf("sessions up: %d/%d", n, n)) ||
		!strings.Contains(rep, fmt.Sprintf("ping %d/%d", 2*n, 2*n)) {
		t.Errorf("loadgen exit %d:\n%s", lg.ExitCode(), rep)
	}
	if got := reportInt(t, rep, "echo requests answered:"); got < 2*n {
		t.Errorf("loadgen answered %d echo requests, want ≥ %d", got, 2*n)
	}

	l.WaitFor("sessions gone after hangup", 20*time.Second, func() bool { return len(l.Sessions()) == 0 })
	l.waitPPPLinks(0, 15*time.Second)
	acct := l.Acct()
	if s, e := count(acct, "start", ""), count(acct, "stop", "User-Request"); s != n || e != n {
		t.Errorf("accounting: %d starts, %d User-Request stops; want %d each", s, e, n)
	}
	users := map[string]bool{}
	for _, r := range acct {
		if r.Type != "stop" {
			continue
		}
		users[r.User] = true
		// Up: 2 requests to inet (60-byte packets) + 2 replies to inet's
		// pings (84 bytes); down the same.
		const want = 2*60 + 2*84
		if r.In < want || r.Out < want {
			t.Errorf("stop for %s: input %d, output %d octets; want ≥ %d each (pings both ways)", r.User, r.In, r.Out, want)
		}
	}
	if len(users) != n {
		t.Errorf("stops for %d distinct users, want %d", len(users), n)
	}
}

// TestIntegration200PAP: 200 PAP subscribers up, traffic through every
// session both ways, 200 stops in accounting.
func TestIntegration200PAP(t *testing.T) { test200(t, "pap") }

// TestIntegration200CHAP: the same with CHAP-MD5.
func TestIntegration200CHAP(t *testing.T) { test200(t, "chap") }

// TestIntegrationWrongPassword: PAP and CHAP subscribers with a wrong
// password get an authentication failure carrying the AC's message, are
// not accounted, and leave no interface behind (while a good session's
// interface stays).
func TestIntegrationWrongPassword(t *testing.T) {
	l := newLab(t, LabOptions{Users: 4})
	l.StartDaemon()
	good := l.StartLoadgen("-n", "1", "--user", "user0004", "--mac-base", "0x44", "--hold", "-1s")
	l.waitActive(1, 20*time.Second)
	l.waitPPPLinks(1, 5*time.Second)
	goodIf := l.pppLinks()[0]

	for _, auth := range []string{"pap", "chap"} {
		out, err := l.Loadgen("-n", "3", "--auth", auth, "--password", "wrong", "--timeout", "10s")
		t.Logf("%s, wrong password: %s", auth, strings.TrimSpace(out))
		if err == nil || !strings.Contains(out, "sessions up: 0/3") {
			t.Errorf("%s: wrong password: err=%v\n%s", auth, err, out)
		}
		if !strings.Contains(out, "auth failed: authentication failed: 3") {
			t.Errorf("%s: loadgen does not report the AC's failure message for all 3:\n%s", auth, out)
		}
	}
	l.waitPPPLinks(1, 10*time.Second)
	if got := l.pppLinks(); got[0] != goodIf {
		t.Errorf("ppp interfaces %v, want only the good session's %s", got, goodIf)
	}
	if got := len(l.Sessions()); got != 1 {
		t.Errorf("%d sessions listed, want 1", got)
	}
	st := l.stats()
	if st["auth_fail"] != float64(6) || st["auth_ok"] != float64(1) {
		t.Errorf("auth_fail %v auth_ok %v, want 6 and 1", st["auth_fail"], st["auth_ok"])
	}
	good.Stop(10 * time.Second)
	l.WaitFor("good session gone", 10*time.Second, func() bool { return len(l.Sessions()) == 0 })
	l.waitPPPLinks(0, 10*time.Second)
	acct := l.Acct()
	if len(acct) != 2 || acct[0].User != "user0004" || acct[1].User != "user0004" {
		t.Errorf("accounting %+v, want only user0004's start and stop", acct)
	}
}

// TestIntegrationPADTBothWays: a PADT from the subscriber (with no LCP
// Terminate before it) ends its session with User-Request; a session the
// AC ends (cli terminate) gets a PADT. Either way the interface goes.
func TestIntegrationPADTBothWays(t *testing.T) {
	l := newLab(t, LabOptions{Users: 6})
	l.StartDaemon()

	// Subscriber → AC.
	out, err := l.Loadgen("-n", "3", "--hangup", "padt", "--ping", inetAddr, "--hold", "1s")
	if err != nil || !strings.Contains(out, "sessions up: 3/3") || !strings.Contains(out, "ping 3/3") {
		t.Fatalf("loadgen: %v\n%s", err, out)
	}
	l.WaitFor("sessions ended by the subscribers' PADTs", 10*time.Second, func() bool { return len(l.Sessions()) == 0 })
	l.waitPPPLinks(0, 10*time.Second)
	if got := count(l.Acct(), "stop", "User-Request"); got != 3 {
		t.Errorf("%d User-Request stops after subscriber PADTs, want 3: %+v", got, l.Acct())
	}

	// AC → subscriber.
	lg := l.StartLoadgen("-n", "3", "--mac-base", "0x43", "--hold", "-1s")
	l.waitActive(3, 20*time.Second)
	l.waitPPPLinks(3, 5*time.Second)
	if out, err := l.CLI("terminate", "user0002"); err != nil {
		t.Fatalf("terminate: %v\n%s", err, out)
	}
	l.WaitFor("2 sessions", 10*time.Second, func() bool { return len(l.Sessions()) == 2 })
	l.waitPPPLinks(2, 10*time.Second)
	lg.Stop(10 * time.Second)
	rep := lg.Out.String()
	if !strings.Contains(rep, "dropped by AC while held: 1") || !strings.Contains(rep, "PADT from AC: 1") {
		t.Errorf("subscriber did not see the AC's PADT:\n%s", rep)
	}
	l.WaitFor("sessions gone", 10*time.Second, func() bool { return len(l.Sessions()) == 0 })
	l.waitPPPLinks(0, 10*time.Second)
	if got := count(l.Acct(), "stop", "Admin-Reset"); got != 1 {
		t.Errorf("%d Admin-Reset stops, want 1", got)
	}
}

// TestIntegrationEchoTimeout: subscribers that fall silent (stop
// answering, or are SIGKILLed and so send no PADT) are ended by LCP echo
// timeout (1 s interval, 3 failures) within ~5 s, with Lost-Carrier.
func TestIntegrationEchoTimeout(t *testing.T) {
	l := newLab(t, LabOptions{Users: 3, EchoInt: "1s", EchoFail: 3})
	l.StartDaemon()

	lg := l.StartLoadgen("-n", "3", "--silent", "--hold", "30s")
	l.waitActive(3, 20*time.Second)
	silent := time.Now()
	l.WaitFor("silent sessions ended", 12*time.Second, func() bool { return len(l.Sessions()) == 0 })
	took := time.Since(silent)
	t.Logf("silent subscribers ended %v after they were all active", took.Round(time.Millisecond))
	if took > 7*time.Second {
		t.Errorf("echo timeout took %v, want ~4 s (1 s × 3 failures)", took)
	}
	l.waitPPPLinks(0, 10*time.Second)
	if got := count(l.Acct(), "stop", "Lost-Carrier"); got != 3 {
		t.Errorf("%d Lost-Carrier stops, want 3: %+v", got, l.Acct())
	}
	// The AC told the (silent but listening) subscribers with a PADT.
	lg.Stop(10 * time.Second)
	if rep := lg.Out.String(); !strings.Contains(rep, "PADT from AC: 3") || !strings.Contains(rep, "dropped by AC while held: 3") {
		t.Errorf("silent loadgen report:\n%s", rep)
	}

	// A subscriber process killed outright: no PADT, no LCP, nothing.
	killed := l.StartLoadgen("-n", "2", "--mac-base", "0x43", "--hold", "-1s")
	l.waitActive(2, 20*time.Second)
	if err := killed.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-killed.Exited()
	dead := time.Now()
	l.WaitFor("killed subscribers' sessions ended", 12*time.Second, func() bool { return len(l.Sessions()) == 0 })
	took = time.Since(dead)
	t.Logf("killed subscribers ended %v after SIGKILL", took.Round(time.Millisecond))
	if took > 7*time.Second {
		t.Errorf("echo timeout took %v, want ~4 s", took)
	}
	l.waitPPPLinks(0, 10*time.Second)
	if got := count(l.Acct(), "stop", "Lost-Carrier"); got != 5 {
		t.Errorf("%d Lost-Carrier stops, want 5", got)
	}
}

// TestIntegrationPADIFlood: on a switched access segment, a second
// namespace floods PADIs from random source MACs far above the AC's global
// PADI rate limit. 20 established sessions keep passing traffic (pings
// every 200 ms from each subscriber, and from inet to a few of them), the
// AC counts the PADIs it refused, and a new subscriber can still connect.
func TestIntegrationPADIFlood(t *testing.T) {
	const (
		n         = 20
		floodRate = 10000 // PADIs/s; the AC's global limit is 2000/s (default)
		floodFor  = 10 * time.Second
	)
	l := newLab(t, LabOptions{Users: n, Switched: true, Extra: "  - {name: new0001, password: secret}\n"})
	l.StartDaemon()
	held := l.StartLoadgen("-n", strconv.Itoa(n), "--ping", inetAddr, "--hold", (floodFor + 4*time.Second).String(),
		"--ping-interval", "200ms")
	l.waitActive(n, 30*time.Second)
	ips := l.activeIPs()
	before := l.drops()

	floodStart := time.Now()
	flood := l.Start(l.Flood, bin(t), "loadgen", "-i", "fl0", "--flood-rate", strconv.Itoa(floodRate),
		"--flood-duration", floodFor.String())

	// Downstream during the flood: 3 subscribers pinged from inet, 5/s.
	time.Sleep(time.Second)
	var sh strings.Builder
	for _, ip := range ips[:3] {
		fmt.Fprintf(&sh, "ping -n -q -c 30 -i 0.2 -W 2 %s | grep 'packet loss' &\n", ip)
	}
	sh.WriteString("wait\n")
	inetPing := make(chan string, 1)
	go func() { out, _ := l.Try(l.Inet, "sh", "-c", sh.String()); inetPing <- out }()

	// A new subscriber 2 s into the flood.
	time.Sleep(time.Second)
	newStart := time.Now()
	newOut, newErr := l.Loadgen("-n", "1", "--user", "new%04d", "--mac-base", "0x43", "--timeout", "30s", "--ping", inetAddr)
	newTook := time.Since(newStart)
	newDuring := newStart.Add(newTook).Before(floodStart.Add(floodFor))
	setup := "?"
	if m := regexp.MustCompile(`setup p50 (\S+)`).FindStringSubmatch(newOut); m != nil {
		setup = m[1]
	}
	t.Logf("new subscriber started %v into the flood: err=%v, setup %v, loadgen run %v, up during the flood: %v: %s",
		newStart.Sub(floodStart).Round(time.Millisecond), newErr, setup, newTook.Round(time.Millisecond), newDuring, strings.TrimSpace(newOut))
	if newErr != nil || !strings.Contains(newOut, "sessions up: 1/1") {
		t.Errorf("a new subscriber could not connect during or after the flood:\n%s", newOut)
	}

	select {
	case <-flood.Exited():
	case <-time.After(floodFor + 20*time.Second):
		t.Fatal("flood did not finish")
	}
	frep := strings.TrimSpace(flood.Out.String())
	t.Logf("%s", frep)
	if flood.ExitCode() != 0 {
		t.Fatalf("flood exit %d: %s", flood.ExitCode(), frep)
	}
	sent := reportInt(t, frep, "sent")
	pados := reportInt(t, frep, "PADOs received")

	after := l.drops()
	limited := after["pppoe-rate-limited-global"] + after["pppoe-rate-limited-mac"] -
		before["pppoe-rate-limited-global"] - before["pppoe-rate-limited-mac"]
	t.Logf("AC drops during the flood: %v", after)
	if limited == 0 || int(limited) > sent {
		t.Errorf("AC counted %v rate-limited PADIs for %d sent", limited, sent)
	}
	if sent > 0 && float64(pados) > float64(sent)*0.5 {
		t.Errorf("AC answered %d of %d flood PADIs: rate limit not effective", pados, sent)
	}

	out := <-inetPing
	t.Logf("pings from inet during the flood:\n%s", strings.TrimSpace(out))
	if strings.Count(out, "packet loss") != 3 {
		t.Errorf("pings from inet: %s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		// Near-zero: at most one echo in 30 on a loaded test machine.
		m := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`).FindStringSubmatch(line)
		if m == nil {
			t.Errorf("ping from inet: %s", line)
			continue
		}
		if tx, rx := atoi(m[1]), atoi(m[2]); tx < 30 || tx-rx > 1 {
			t.Errorf("downstream loss during the flood: %s", line)
		}
	}

	select {
	case <-held.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("held loadgen did not finish")
	}
	rep := held.Out.String()
	t.Logf("held subscribers: %s", strings.TrimSpace(rep))
	m := regexp.MustCompile(`hold ping (\d+)/(\d+) lost (\d+)`).FindStringSubmatch(rep)
	if m == nil {
		t.Fatalf("no hold ping results:\n%s", rep)
	}
	recv, _ := strconv.Atoi(m[1])
	total, _ := strconv.Atoi(m[2])
	// 20 sessions × 5/s × ~14 s ≈ 1400; allow 1% for a loaded test machine.
	if total < n*5*10 || recv*100 < total*99 {
		t.Errorf("established sessions lost pings during the flood: %d/%d answered", recv, total)
	}
	if !strings.Contains(rep, fmt.Sprintf("sessions up: %d/%d", n, n)) || strings.Contains(rep, "dropped by AC") {
		t.Errorf("held sessions did not survive the flood:\n%s", rep)
	}
}
