//go:build integration

package integration

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestIntegrationPPPoESessions: 50 subscribers come up with CHAP, ping the
// far side through their sessions, are listed by the CLI while held, hang
// up, and leave one Start and one Stop each in accounting.
func TestIntegrationPPPoESessions(t *testing.T) {
	const n = 50
	l := newLab(t, LabOptions{Users: n})
	l.StartDaemon()
	lg := l.StartLoadgen("-n", "50", "--ping", inetAddr, "--ping-count", "2", "--hold", "5s")

	l.WaitFor("50 active sessions", 30*time.Second, func() bool {
		active := 0
		for _, s := range l.Sessions() {
			if s["state"] == "active" {
				active++
			}
		}
		return active == n
	})
	pool := netip.MustParsePrefix(subnetPool)
	seenIP := map[string]bool{}
	for _, s := range l.Sessions() {
		ip, _ := s["ip"].(string)
		a, err := netip.ParseAddr(ip)
		if err != nil || !pool.Contains(a) || seenIP[ip] {
			t.Errorf("session %v: bad or duplicate ip %q", s["username"], ip)
		}
		seenIP[ip] = true
		if ifn, _ := s["ifname"].(string); !strings.HasPrefix(ifn, "ppp") {
			t.Errorf("session %v: ifname %q", s["username"], ifn)
		}
		if u, _ := s["username"].(string); !strings.HasPrefix(u, "user") {
			t.Errorf("session username %q", u)
		}
	}
	out, _ := l.CLI("show", "sessions")
	if !strings.Contains(out, "user0001") || !strings.Contains(out, "ppp") {
		t.Errorf("show sessions table lacks sessions:\n%s", out)
	}

	select {
	case <-lg.Exited():
	case <-time.After(60 * time.Second):
		t.Fatal("loadgen did not finish")
	}
	rep := lg.Out.String()
	if lg.ExitCode() != 0 || !strings.Contains(rep, "sessions up: 50/50") || !strings.Contains(rep, "ping 100/100") {
		t.Fatalf("loadgen exit %d:\n%s", lg.ExitCode(), rep)
	}
	l.WaitFor("sessions gone after hangup", 15*time.Second, func() bool { return len(l.Sessions()) == 0 })
	acct := l.Acct()
	if s, e := count(acct, "start", ""), count(acct, "stop", "User-Request"); s != n || e != n {
		t.Errorf("accounting: %d starts, %d User-Request stops; want %d each", s, e, n)
	}
	for _, r := range acct {
		if r.Type == "stop" && r.In == 0 {
			t.Errorf("stop for %s has no input octets (pings went through)", r.User)
		}
	}
}

// TestIntegrationGracefulStop: SIGTERM ends every session with a PADT and an
// Admin-Reboot Stop, and the daemon exits 0.
func TestIntegrationGracefulStop(t *testing.T) {
	const n = 20
	l := newLab(t, LabOptions{Users: n})
	d := l.StartDaemon()
	lg := l.StartLoadgen("-n", "20", "--hold", "-1s")
	l.WaitFor("20 sessions", 30*time.Second, func() bool { return len(l.Sessions()) == n })
	time.Sleep(500 * time.Millisecond) // let the last Starts land

	d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.Exited():
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not exit on SIGTERM")
	}
	if d.ExitCode() != 0 {
		t.Errorf("daemon exit code %d", d.ExitCode())
	}
	if got := count(l.Acct(), "stop", "Admin-Reboot"); got != n {
		t.Errorf("%d Admin-Reboot stops, want %d", got, n)
	}
	lg.Stop(10 * time.Second)
	if !strings.Contains(lg.Out.String(), "dropped by AC while held: 20") {
		t.Errorf("subscribers did not all see the AC end their sessions:\n%s", lg.Out.String())
	}
}

// TestIntegrationTerminateOne: `cli terminate <user>` ends exactly that
// subscriber's session (PADT seen by it, Admin-Reset Stop).
func TestIntegrationTerminateOne(t *testing.T) {
	l := newLab(t, LabOptions{Users: 5})
	l.StartDaemon()
	lg := l.StartLoadgen("-n", "5", "--hold", "-1s")
	l.WaitFor("5 sessions", 30*time.Second, func() bool { return len(l.Sessions()) == 5 })
	if out, err := l.CLI("terminate", "user0003"); err != nil {
		t.Fatalf("terminate: %v\n%s", err, out)
	}
	l.WaitFor("4 sessions", 10*time.Second, func() bool { return len(l.Sessions()) == 4 })
	for _, s := range l.Sessions() {
		if s["username"] == "user0003" {
			t.Error("user0003 still listed")
		}
	}
	var stops []acctRecord
	for _, r := range l.Acct() {
		if r.Type == "stop" {
			stops = append(stops, r)
		}
	}
	if len(stops) != 1 || stops[0].User != "user0003" || stops[0].Cause != "Admin-Reset" {
		t.Errorf("stops = %+v, want one Admin-Reset for user0003", stops)
	}
	if out, err := l.CLI("terminate", "nosuchuser"); err == nil {
		t.Errorf("terminate of unknown user succeeded: %s", out)
	}
	lg.Stop(10 * time.Second)
	if !strings.Contains(lg.Out.String(), "dropped by AC while held: 1") {
		t.Errorf("loadgen report:\n%s", lg.Out.String())
	}
}

// TestIntegrationAuth: wrong passwords are refused and counted; PAP-only
// and CHAP-only policies work with clients that accept them and fail with
// clients that don't.
func TestIntegrationAuth(t *testing.T) {
	l := newLab(t, LabOptions{Users: 3, Auth: []string{"pap"}})
	l.StartDaemon()
	if out, err := l.Loadgen("-n", "2", "--password", "wrong", "--timeout", "5s"); err == nil || !strings.Contains(out, "sessions up: 0/2") {
		t.Errorf("wrong password: err=%v\n%s", err, out)
	}
	if out, err := l.Loadgen("-n", "3", "--auth", "pap"); err != nil || !strings.Contains(out, "sessions up: 3/3") {
		t.Errorf("PAP: err=%v\n%s", err, out)
	}
	if out, err := l.Loadgen("-n", "1", "--auth", "chap", "--timeout", "5s"); err == nil {
		t.Errorf("CHAP-only client against PAP-only server came up:\n%s", out)
	}
	out, _ := l.CLI("show", "stat", "json")
	if !strings.Contains(out, `"auth_fail": 2`) || !strings.Contains(out, `"auth_ok": 3`) {
		t.Errorf("show stat: %s", out)
	}
	if len(l.Acct()) != 6 { // 3 starts + 3 stops; rejected sessions are not accounted
		t.Errorf("accounting records: %+v", l.Acct())
	}
}

// TestIntegrationVLANs: tagged subscribers are served on configured VLANs
// (single and QinQ) and ignored on others.
func TestIntegrationVLANs(t *testing.T) {
	l := newLab(t, LabOptions{Users: 4, VLANs: []string{"100-110", "10.200"}})
	l.StartDaemon()
	if out, err := l.Loadgen("-n", "2", "--vlan", "105", "--ping", inetAddr); err != nil {
		t.Errorf("VLAN 105: %v\n%s", err, out)
	}
	if out, err := l.Loadgen("-n", "2", "--vlan", "10.200", "--ping", inetAddr, "--mac-base", "67"); err != nil {
		t.Errorf("QinQ 10.200: %v\n%s", err, out)
	}
	if out, err := l.Loadgen("-n", "1", "--vlan", "111", "--timeout", "3s"); err == nil {
		t.Errorf("VLAN 111 (not served) came up:\n%s", out)
	}
	if out, err := l.Loadgen("-n", "1", "--timeout", "3s"); err == nil {
		t.Errorf("untagged (not served) came up:\n%s", out)
	}
}

// TestIntegrationCapture: a tshark capture of discovery, PPP negotiation,
// traffic and teardown decodes with no malformed packets.
func TestIntegrationCapture(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatal("tshark is required (apt-get install tshark)")
	}
	l := newLab(t, LabOptions{Users: 4, Extra: ""})
	pcap := filepath.Join(l.Dir, "acc0.pcap")
	ts := l.Start(l.BNG, "tshark", "-q", "-i", "acc0", "-w", pcap)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ts.WaitOutput(ctx, "Capture started"); err != nil {
		t.Fatal(err)
	}
	l.StartDaemon()
	if out, err := l.Loadgen("-n", "2", "--auth", "chap", "--ping", inetAddr); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := l.Loadgen("-n", "2", "--auth", "pap", "--mac-base", "67"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	time.Sleep(time.Second)
	ts.Stop(5 * time.Second)
	os.Chmod(pcap, 0o644)
	out, err := exec.CommandContext(ctx, "tshark", "-r", pcap, "-Y", "_ws.malformed || _ws.expert.severity == error").Output()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("malformed packets in capture (err %v):\n%s", err, out)
	}
	out, _ = exec.CommandContext(ctx, "tshark", "-r", pcap, "-T", "fields", "-e", "_ws.col.Protocol").Output()
	for _, proto := range []string{"PPPoED", "PPP LCP", "PPP CHAP", "PPP PAP", "PPP IPCP", "ICMP"} {
		if !strings.Contains(string(out), proto) {
			t.Errorf("capture has no %s packets; protocols seen:\n%s", proto, uniq(string(out)))
		}
	}
}

func uniq(lines string) string {
	seen := map[string]bool{}
	var out []string
	for _, l := range strings.Split(lines, "\n") {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
