//go:build integration

package integration

// L2TP topology: the loadgen is the LAC, bngbox the LNS, over the same veth
// as PPPoE with IPv4 addresses added:
//
//	sub (LAC: loadgen --l2tp)                 bng (LNS: bngbox)
//	sub0 10.255.0.2/24 ──── UDP 1701 ──── acc0 10.255.0.1/24 ──(up0)── inet 198.51.100.2
//
// PPP runs inside the calls; pings go from each session through the LNS to
// inet and back.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	lnsAddr    = "10.255.0.1"
	lacAddr    = "10.255.0.2"
	lacSecret  = "s3cret"
	l2tpConfig = `l2tp:
  enabled: true
  listen: ` + lnsAddr + `:1701
  hostname: lns-test
  require-auth: true
  hello-interval: %s
  secrets: [{peer: ` + lacAddr + `, secret: ` + lacSecret + `}]
`
)

// newL2TPLab is the standard lab with the LNS enabled and addresses on the
// access veth.
func newL2TPLab(t testing.TB, users int, hello string, opts ...LabOptions) *Lab {
	t.Helper()
	var o LabOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	// LabOptions.Config adds keys to the l2tp section (indented by two).
	o.Users, o.Config = users, fmt.Sprintf(l2tpConfig, hello)+o.Config
	l := newLab(t, o)
	l.Exec(l.BNG, "ip", "addr", "add", lnsAddr+"/24", "dev", "acc0")
	l.Exec(l.Sub, "ip", "addr", "add", lacAddr+"/24", "dev", "sub0")
	return l
}

// lac returns loadgen arguments for LAC mode toward the lab's LNS.
func lac(args ...string) []string {
	return append([]string{"--l2tp", lnsAddr, "--secret", lacSecret}, args...)
}

func (l *Lab) l2tpSessions() (n int, tunnels map[string]bool) {
	tunnels = map[string]bool{}
	for _, s := range l.Sessions() {
		if s["type"] == "l2tp" && s["state"] == "active" {
			n++
			tun, _ := s["tunnel"].(string)
			tunnels[tun] = true
		}
	}
	return n, tunnels
}

// establishedTunnels counts `show tunnels` entries in state established.
// A tunnel that sent or received StopCCN stays "closing" for a while
// (RFC 2661 §5.7) and is not counted.
func (l *Lab) establishedTunnels() int {
	l.t.Helper()
	out, err := l.CLI("show", "tunnels", "json")
	if err != nil {
		l.t.Fatalf("show tunnels: %v\n%s", err, out)
	}
	var v []map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		l.t.Fatalf("show tunnels json: %v\n%s", err, out)
	}
	n := 0
	for _, t := range v {
		if t["state"] == "established" {
			n++
		}
	}
	return n
}

func waitExit(t testing.TB, p interface{ Exited() <-chan struct{} }, d time.Duration, what string) {
	t.Helper()
	select {
	case <-p.Exited():
	case <-time.After(d):
		t.Fatalf("%s did not finish in %v", what, d)
	}
}

// TestIntegrationL2TPSessions: a LAC brings up 10 tunnels × 100 sessions
// with CHAP, then again with PAP; every session pings inet through the LNS;
// sessions are listed with type l2tp and their tunnel, `show tunnels` lists
// the tunnels; the LAC's CDNs end every session (User-Request).
func TestIntegrationL2TPSessions(t *testing.T) {
	const tunnels, perTunnel = 10, 100
	const n = tunnels * perTunnel
	l := newL2TPLab(t, n, "10s")
	l.StartDaemon()
	for _, auth := range []string{"chap", "pap"} {
		lg := l.StartLoadgen(lac("-n", fmt.Sprint(n), "--tunnels", fmt.Sprint(tunnels), "--auth", auth,
			"--ping", inetAddr, "--hold", "3s", "--timeout", "120s", "--concurrency", "200")...)
		l.WaitFor(auth+": 1000 active l2tp sessions", 240*time.Second, func() bool {
			got, _ := l.l2tpSessions()
			return got == n || chanClosed(lg.Exited())
		})
		if got, tuns := l.l2tpSessions(); got != n || len(tuns) != tunnels {
			t.Fatalf("%s: %d active l2tp sessions in %d tunnels, want %d in %d\n%s", auth, got, len(tuns), n, tunnels, lg.Out.String())
		}
		// Tunnels of the previous wave may still be closing (StopCCN hold
		// time): count the established ones.
		if got := l.establishedTunnels(); got != tunnels {
			out, _ := l.CLI("show", "tunnels")
			t.Errorf("show tunnels: %d established, want %d\n%s", got, tunnels, out)
		}
		waitExit(t, lg, 240*time.Second, "loadgen")
		rep := lg.Out.String()
		t.Logf("%s: %s", auth, lastLine(rep))
		if lg.ExitCode() != 0 || !strings.Contains(rep, "sessions up: 1000/1000") || !strings.Contains(rep, "ping 1000/1000") {
			t.Fatalf("%s: loadgen exit %d:\n%s", auth, lg.ExitCode(), rep)
		}
		l.WaitFor("sessions gone after CDN", 60*time.Second, func() bool { return len(l.Sessions()) == 0 })
		l.WaitFor("tunnels gone after StopCCN", 20*time.Second, func() bool { return l.establishedTunnels() == 0 })
	}
	acct := l.Acct()
	if s, e := count(acct, "start", ""), count(acct, "stop", "User-Request"); s != 2*n || e != 2*n {
		t.Errorf("accounting: %d starts, %d User-Request stops; want %d each", s, e, 2*n)
	}
}

func chanClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestIntegrationL2TPTeardown: `cli terminate <user>` sends CDN (the LAC
// sees its call end); a LAC StopCCN ends every session of its tunnels; a
// daemon SIGTERM sends StopCCN (the LAC sees every call end).
func TestIntegrationL2TPTeardown(t *testing.T) {
	l := newL2TPLab(t, 6, "10s")
	d := l.StartDaemon()

	// CDN from the LNS.
	lg := l.StartLoadgen(lac("-n", "3", "--tunnels", "2", "--hold", "-1s")...)
	l.WaitFor("3 sessions", 30*time.Second, func() bool { n, _ := l.l2tpSessions(); return n == 3 })
	if out, err := l.CLI("terminate", "user0002"); err != nil {
		t.Fatalf("terminate: %v\n%s", err, out)
	}
	l.WaitFor("2 sessions", 10*time.Second, func() bool { return len(l.Sessions()) == 2 })
	lg.Stop(10 * time.Second)
	if !strings.Contains(lg.Out.String(), "dropped by AC while held: 1") {
		t.Errorf("LAC did not see the CDN:\n%s", lg.Out.String())
	}
	l.WaitFor("sessions gone", 10*time.Second, func() bool { return len(l.Sessions()) == 0 })

	// StopCCN from the LAC.
	out, err := l.Loadgen(lac("-n", "4", "--tunnels", "2", "--hold", "1s", "--l2tp-stopccn")...)
	if err != nil || !strings.Contains(out, "sessions up: 4/4") {
		t.Fatalf("loadgen: %v\n%s", err, out)
	}
	l.WaitFor("sessions gone after StopCCN", 10*time.Second, func() bool { return len(l.Sessions()) == 0 })
	l.WaitFor("tunnels gone after StopCCN", 10*time.Second, func() bool { return l.establishedTunnels() == 0 })

	// StopCCN from the LNS (shutdown).
	lg = l.StartLoadgen(lac("-n", "5", "--tunnels", "2", "--hold", "-1s")...)
	l.WaitFor("5 sessions", 30*time.Second, func() bool { n, _ := l.l2tpSessions(); return n == 5 })
	d.Cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, d, 15*time.Second, "daemon")
	if d.ExitCode() != 0 {
		t.Errorf("daemon exit code %d", d.ExitCode())
	}
	lg.Stop(10 * time.Second)
	if !strings.Contains(lg.Out.String(), "dropped by AC while held: 5") {
		t.Errorf("LAC did not see every call end on StopCCN:\n%s", lg.Out.String())
	}
	acct := l.Acct()
	if got := count(acct, "stop", "Admin-Reset"); got != 1 {
		t.Errorf("%d Admin-Reset stops, want 1", got)
	}
	if got := count(acct, "stop", "Admin-Reboot"); got != 5 {
		t.Errorf("%d Admin-Reboot stops, want 5", got)
	}
}

// TestIntegrationL2TPHelloTimeout: a LAC that stops answering (SIGSTOP) is
// torn down by Hello retransmission failure, sessions included.
func TestIntegrationL2TPHelloTimeout(t *testing.T) {
	l := newL2TPLab(t, 3, "1s")
	l.StartDaemon()
	lg := l.StartLoadgen(lac("-n", "3", "--tunnels", "1", "--hold", "-1s")...)
	l.WaitFor("3 sessions", 30*time.Second, func() bool { n, _ := l.l2tpSessions(); return n == 3 })
	lg.Cmd.Process.Signal(syscall.SIGSTOP)
	t.Cleanup(func() { lg.Cmd.Process.Kill() })
	// Hello after 1 s of silence, then 5 retransmissions (1+2+4+8+8 s) and
	// a last wait of 8 s: about 32 s.
	l.WaitFor("sessions gone after Hello timeout", 60*time.Second, func() bool { return len(l.Sessions()) == 0 })
	l.WaitFor("tunnel gone", 10*time.Second, func() bool { return l.establishedTunnels() == 0 })
	lg.Cmd.Process.Kill()
}

// TestIntegrationL2TPWrongSecret: a LAC with the wrong secret is refused
// and no tunnel or session is left.
func TestIntegrationL2TPWrongSecret(t *testing.T) {
	l := newL2TPLab(t, 1, "10s")
	l.StartDaemon()
	out, err := l.Loadgen("--l2tp", lnsAddr, "--secret", "wrong", "-n", "1", "--timeout", "10s")
	if err == nil || !strings.Contains(out, "tunnel") {
		t.Fatalf("wrong secret accepted: %v\n%s", err, out)
	}
	out, err = l.Loadgen("--l2tp", lnsAddr, "-n", "1", "--timeout", "10s")
	if err == nil {
		t.Fatalf("no secret accepted with require-auth: %s", out)
	}
	if n := l.establishedTunnels(); n != 0 {
		t.Errorf("%d tunnels established after refusal", n)
	}
	if len(l.Sessions()) != 0 {
		t.Errorf("sessions left: %v", l.Sessions())
	}
}

// TestIntegrationL2TPCapture: a capture of tunnel setup with challenge
// authentication, calls with PAP and CHAP, pings, CDN, StopCCN and a
// refused tunnel decodes with no malformed L2TP/PPP packets.
func TestIntegrationL2TPCapture(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatal("tshark is required (apt-get install tshark)")
	}
	l := newL2TPLab(t, 4, "10s")
	pcap := filepath.Join(l.Dir, "l2tp.pcap")
	ts := l.Start(l.BNG, "tshark", "-q", "-i", "acc0", "-f", "udp port 1701", "-w", pcap)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ts.WaitOutput(ctx, "Capture started"); err != nil {
		t.Fatal(err)
	}
	l.StartDaemon()
	if out, err := l.Loadgen(lac("-n", "2", "--tunnels", "2", "--auth", "chap", "--ping", inetAddr)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := l.Loadgen(lac("-n", "2", "--auth", "pap", "--l2tp-sequencing", "--ping", inetAddr)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	l.Loadgen("--l2tp", lnsAddr, "--secret", "wrong", "-n", "1", "--timeout", "5s")
	time.Sleep(time.Second)
	ts.Stop(5 * time.Second)
	os.Chmod(pcap, 0o644)
	out, err := exec.CommandContext(ctx, "tshark", "-r", pcap, "-Y", "_ws.malformed || _ws.expert.severity == error").Output()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("malformed packets in capture (err %v):\n%s", err, out)
	}
	out, _ = exec.CommandContext(ctx, "tshark", "-r", pcap, "-T", "fields", "-e", "l2tp.avp.message_type").Output()
	for _, typ := range []string{"1", "2", "3", "4", "6", "10", "11", "12", "14"} { // SCCRQ SCCRP SCCCN StopCCN Hello? ICRQ ICRP ICCN CDN
		if typ == "6" {
			continue // Hello only after an idle interval
		}
		if !strings.Contains("\n"+string(out), "\n"+typ+"\n") && !strings.Contains(string(out), ","+typ) && !strings.Contains(string(out), typ+",") {
			t.Errorf("capture has no L2TP message type %s; seen:\n%s", typ, uniq(string(out)))
		}
	}
	out, _ = exec.CommandContext(ctx, "tshark", "-r", pcap, "-T", "fields", "-e", "_ws.col.Protocol").Output()
	for _, proto := range []string{"L2TP", "PPP LCP", "PPP CHAP", "PPP PAP", "PPP IPCP", "ICMP"} {
		if !strings.Contains(string(out), proto) {
			t.Errorf("capture has no %s packets; protocols seen:\n%s", proto, uniq(string(out)))
		}
	}
}

// BenchmarkIntegrationL2TPSetup measures LNS session setup rate: the
// loadgen LAC brings up 10 tunnels x 100 sessions (CHAP, one ping each)
// through bngbox at log level info, per iteration; the metrics are the
// loadgen's setups/s and p50/p99 setup times. Run with
//
//	make build && BNGBOX_BIN=$PWD/bin/bngbox go test -tags integration \
//	  -run '^$' -bench IntegrationL2TPSetup -benchtime 3x ./test/integration/
func BenchmarkIntegrationL2TPSetup(b *testing.B) {
	const n = 1000
	l := newL2TPLab(b, n, "10s")
	l.StartDaemon()
	var rate, p50, p99 float64
	for range b.N {
		out, err := l.Loadgen(lac("-n", fmt.Sprint(n), "--tunnels", "10", "--auth", "chap", "--ping", inetAddr,
			"--hold", "3s", "--timeout", "120s", "--concurrency", "200")...)
		if err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		var up, att int
		var secs, r float64
		var s50, s99 string
		if _, err := fmt.Sscanf(lastReport(out), "sessions up: %d/%d (failed 0) in %fs: %f setups/s, setup p50 %s p99 %s",
			&up, &att, &secs, &r, &s50, &s99); err != nil {
			b.Fatalf("report %q: %v", out, err)
		}
		d50, _ := time.ParseDuration(strings.TrimSuffix(s50, ";"))
		d99, _ := time.ParseDuration(strings.TrimSuffix(s99, ";"))
		b.Logf("%s", lastReport(out))
		rate += r
		p50 += float64(d50.Milliseconds())
		p99 += float64(d99.Milliseconds())
		l.WaitFor("sessions gone", 60*time.Second, func() bool { return len(l.Sessions()) == 0 })
	}
	b.ReportMetric(rate/float64(b.N), "setups/s")
	b.ReportMetric(p50/float64(b.N), "p50-ms")
	b.ReportMetric(p99/float64(b.N), "p99-ms")
}

// lastReport is the loadgen's report line.
func lastReport(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "sessions up:") {
			return line
		}
	}
	return out
}
