//go:build integration

package integration

// Topology: as in lab_test.go, plus a FreeRADIUS inside the bng namespace
// (so bngbox reaches it over that namespace's loopback):
//
//	sub-ns: loadgen ── veth ── bng-ns: bngbox ──udp 127.0.0.1:1812/1813──► freeradius -f -d <tmp>
//	                                    ▲ udp 127.0.0.1:3799 (DAE)
//	                                    └── radclient (CoA / Disconnect)

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bngbox/bngbox/internal/netnstest"
	"github.com/bngbox/bngbox/internal/radtest"
)

const (
	radSecret = "testing123"
	coaSecret = "coasecret"
	daeAddr   = "127.0.0.1:3799"
)

// radUsers: CHAP users user0001-2 (loadgen default names), a PAP user, users
// with Session-Timeout / Idle-Timeout, a rejected one, and bulk0001 for the
// > 4 GiB session (radius_gigawords_test.go).
const radUsers = `user0001 Cleartext-Password := "secret"
	Framed-IP-Address = 100.64.200.1,
	Mikrotik-Rate-Limit = "5M/20M",
	Class = "gold"

user0002 Cleartext-Password := "secret"
	Framed-IP-Address = 100.64.200.2,
	RP-Downstream-Speed-Limit = 10000,
	RP-Upstream-Speed-Limit = 2000

pap0001 Cleartext-Password := "secret"
	Framed-IP-Address = 100.64.200.3

timeout0001 Cleartext-Password := "secret"
	Session-Timeout = 3

idle0001 Cleartext-Password := "secret"
	Idle-Timeout = 4

rejectme0001 Cleartext-Password := "secret", Auth-Type := Reject
	Reply-Message = "account suspended"

bulk0001 Cleartext-Password := "secret"
	Framed-IP-Address = 100.64.200.9,
	Class = "bulk"
`

// radiusAAA is the auth/accounting part of the bngbox config; authBackend
// is "radius" or "local", interim the accounting.interim-interval.
func radiusAAA(authBackend, interim string) string {
	return fmt.Sprintf(`auth: {backend: %s, users-file: users.yaml}
accounting: {backend: radius, interim-interval: %s}`, authBackend, interim)
}

const radiusSection = `nas: {identifier: bngbox-test, ip: 127.0.0.1}
radius:
  auth-servers: [{address: "127.0.0.1:1812", secret: ` + radSecret + `}]
  acct-servers: [{address: "127.0.0.1:1813", secret: ` + radSecret + `}]
  timeout: 500ms
  retries: 1
  spool-path: spool/acct.db
  dictionaries: [` + "{{DICT}}" + `]
  dae:
    listen: "` + daeAddr + `"
    clients: [{address: 127.0.0.1, secret: ` + coaSecret + `}]
`

func radiusConfig(t *testing.T) string {
	dict, err := filepath.Abs("../../etc/dictionary.bngbox")
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(radiusSection, "{{DICT}}", dict)
}

// freeRADIUS is one FreeRADIUS started in the lab's bng namespace.
type freeRADIUS struct {
	dir  string
	proc *netnstest.Proc
}

// newFreeRADIUS writes a FreeRADIUS config (internal/radtest) into its own
// temp dir.
func newFreeRADIUS(t *testing.T) *freeRADIUS {
	t.Helper()
	f := &freeRADIUS{dir: t.TempDir()}
	if err := radtest.Write(radtest.Config{Dir: f.dir, Secret: radSecret, AuthPort: 1812, AcctPort: 1813, LogAuth: true, Users: radUsers}); err != nil {
		t.Fatal(err)
	}
	return f
}

// start runs freeradius in the foreground in the bng namespace (killed by
// PID at cleanup) and waits until it serves.
func (f *freeRADIUS) start(l *Lab) {
	l.t.Helper()
	f.proc = l.Start(l.BNG, "freeradius", "-f", "-d", f.dir, "-l", "stdout")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.proc.WaitOutput(ctx, "Ready to process requests"); err != nil {
		l.t.Fatal(err)
	}
}

// detail parses FreeRADIUS's detail file: one map per record (attribute →
// value, quotes stripped).
func (f *freeRADIUS) detail(t *testing.T) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "acct", "detail"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]string
	var cur map[string]string
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "":
			if cur != nil {
				recs = append(recs, cur)
				cur = nil
			}
		case line[0] != '\t':
			cur = map[string]string{}
		default:
			k, v, _ := strings.Cut(strings.TrimSpace(line), " = ")
			cur[k] = strings.Trim(v, `"`)
		}
	}
	if cur != nil {
		recs = append(recs, cur)
	}
	return recs
}

// records returns the detail records with that Acct-Status-Type (and, if
// user is set, that User-Name).
func records(recs []map[string]string, status, user string) []map[string]string {
	var out []map[string]string
	for _, r := range recs {
		if r["Acct-Status-Type"] == status && (user == "" || r["User-Name"] == user) {
			out = append(out, r)
		}
	}
	return out
}

func requireRADIUSTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"freeradius", "radclient"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required (apt-get install freeradius freeradius-utils)", tool)
		}
	}
}

// radclient sends one DAE request from the bng namespace and returns its
// output.
func radclient(l *Lab, cmd, attrs string) string {
	l.t.Helper()
	return radclientSecret(l, cmd, coaSecret, attrs)
}

func radclientSecret(l *Lab, cmd, secret, attrs string) string {
	l.t.Helper()
	f := filepath.Join(l.Dir, "radclient.txt")
	if err := os.WriteFile(f, []byte(attrs+"\n"), 0o600); err != nil {
		l.t.Fatal(err)
	}
	out, _ := l.Try(l.BNG, "radclient", "-x", "-t", "2", "-r", "1", "-f", f, daeAddr, cmd, secret)
	return out
}

// sessionBy finds a session in `show sessions json` by username.
func sessionBy(l *Lab, user string) map[string]any {
	for _, s := range l.Sessions() {
		if s["username"] == user {
			return s
		}
	}
	return nil
}

func rates(s map[string]any) string {
	r, _ := s["rates"].(map[string]any)
	return fmt.Sprintf("%v/%v", r["down_bps"], r["up_bps"])
}

// TestIntegrationRADIUSSessions: CHAP and PAP subscribers authenticate
// against FreeRADIUS and get its address and rates; a rejected user stays
// out; Disconnect-Request (by User-Name and by Acct-Session-Id) ends exactly
// that session; CoA changes rates live; Session-Timeout and Idle-Timeout end
// sessions; FreeRADIUS's detail file has Accounting-On/Off and a Start and a
// Stop per session with the right fields.
func TestIntegrationRADIUSSessions(t *testing.T) {
	requireRADIUSTools(t)
	l := newLab(t, LabOptions{AAA: radiusAAA("radius", "10s"), Config: radiusConfig(t)})
	fr := newFreeRADIUS(t)
	fr.start(l)
	d := l.StartDaemon()

	chap := l.StartLoadgen("-n", "2", "--auth", "chap", "--ping", inetAddr, "--ping-count", "2", "--hold", "-1s")
	pap := l.StartLoadgen("-n", "1", "--auth", "pap", "--user", "pap%04d", "--mac-base", "67", "--ping", inetAddr, "--hold", "-1s")
	l.WaitFor("3 active sessions", 30*time.Second, func() bool {
		n := 0
		for _, s := range l.Sessions() {
			if s["state"] == "active" {
				n++
			}
		}
		return n == 3
	})
	for user, want := range map[string]struct{ ip, rates string }{
		"user0001": {"100.64.200.1", "2e+07/5e+06"},
		"user0002": {"100.64.200.2", "1e+07/2e+06"},
		"pap0001":  {"100.64.200.3", "0/0"},
	} {
		s := sessionBy(l, user)
		if s == nil {
			t.Errorf("%s: no session", user)
			continue
		}
		if s["ip"] != want.ip || rates(s) != want.rates {
			t.Errorf("%s: ip %v rates %s, want %s %s (from RADIUS)", user, s["ip"], rates(s), want.ip, want.rates)
		}
	}
	if out, err := l.CLI("show", "radius"); err != nil || !strings.Contains(out, "127.0.0.1:1812") || !strings.Contains(out, "127.0.0.1:1813") {
		t.Errorf("show radius: %v\n%s", err, out)
	}

	// Reject with Reply-Message, which reaches the subscriber in the CHAP
	// Failure and in the PAP Authenticate-Nak.
	for _, auth := range []string{"chap", "pap"} {
		out, err := l.Loadgen("-n", "1", "--auth", auth, "--user", "rejectme%04d", "--mac-base", "70", "--timeout", "5s")
		if err == nil || !strings.Contains(out, "sessions up: 0/1") || !strings.Contains(out, "auth failed: account suspended") {
			t.Errorf("rejected user (%s): err=%v\n%s", auth, err, out)
		}
	}
	if !strings.Contains(d.Out.String(), "account suspended") {
		t.Error("daemon log lacks the Reply-Message of the Access-Reject")
	}

	// A request signed with the wrong secret gets no answer and changes nothing.
	if out := radclientSecret(l, "disconnect", "wrongsecret", `User-Name = "user0001"`); strings.Contains(out, "Received") {
		t.Errorf("answer to a request with a bad secret:\n%s", out)
	}
	if sessionBy(l, "user0001") == nil {
		t.Fatal("user0001 disconnected by a request with a bad secret")
	}

	// CoA: new rates, session stays.
	if out := radclient(l, "coa", `User-Name = "user0001", Mikrotik-Rate-Limit = "1M/2M"`); !strings.Contains(out, "Received CoA-ACK") {
		t.Errorf("CoA not acknowledged:\n%s", out)
	}
	l.WaitFor("CoA rates on user0001", 5*time.Second, func() bool {
		s := sessionBy(l, "user0001")
		return s != nil && rates(s) == "2e+06/1e+06"
	})
	// Disconnect by User-Name.
	if out := radclient(l, "disconnect", `User-Name = "user0002"`); !strings.Contains(out, "Received Disconnect-ACK") {
		t.Errorf("Disconnect by User-Name not acknowledged:\n%s", out)
	}
	l.WaitFor("user0002 gone", 10*time.Second, func() bool { return sessionBy(l, "user0002") == nil })
	// Disconnect by Acct-Session-Id.
	papSess := sessionBy(l, "pap0001")
	if papSess == nil {
		t.Fatal("pap0001 gone too early")
	}
	papID, _ := papSess["id"].(string)
	if out := radclient(l, "disconnect", fmt.Sprintf("Acct-Session-Id = %q", papID)); !strings.Contains(out, "Received Disconnect-ACK") {
		t.Errorf("Disconnect by Acct-Session-Id not acknowledged:\n%s", out)
	}
	l.WaitFor("pap0001 gone", 10*time.Second, func() bool { return sessionBy(l, "pap0001") == nil })
	if out := radclient(l, "disconnect", `User-Name = "nobody"`); !strings.Contains(out, "Session-Context-Not-Found") {
		t.Errorf("Disconnect of an unknown user:\n%s", out)
	}
	if s := l.Sessions(); len(s) != 1 || s[0]["username"] != "user0001" {
		t.Errorf("after disconnects: %v, want user0001 only", s)
	}
	// The first interim is jittered over accounting.interim-interval (10s):
	// keep user0001 up until FreeRADIUS has one, however fast the steps
	// above ran.
	l.WaitFor("an Interim-Update for user0001", 25*time.Second, func() bool {
		return len(records(fr.detail(t), "Interim-Update", "user0001")) > 0
	})
	// CoA: Filter-Id, Idle-Timeout and Acct-Interim-Interval, applied live
	// in one step; the rates stay. (After the first interim: the new
	// interval, 120 s, moves the next one past the test.)
	if out := radclient(l, "coa", `User-Name = "user0001", Filter-Id = "gold", Idle-Timeout = 3600, Acct-Interim-Interval = 120`); !strings.Contains(out, "Received CoA-ACK") {
		t.Errorf("CoA with Filter-Id/Idle-Timeout/Acct-Interim-Interval not acknowledged:\n%s", out)
	}
	l.WaitFor("CoA policy on user0001", 5*time.Second, func() bool {
		s := sessionBy(l, "user0001")
		return s != nil && s["filter_id"] == "gold" && s["idle_timeout_s"] == 3600.0 && s["interim_interval_s"] == 120.0 && rates(s) == "2e+06/1e+06"
	})
	// A CoA with an attribute we cannot apply changes nothing.
	if out := radclient(l, "coa", `User-Name = "user0001", Filter-Id = "silver", Framed-Pool = "other"`); !strings.Contains(out, "Unsupported-Attribute") {
		t.Errorf("CoA with Framed-Pool: want a NAK with Unsupported-Attribute:\n%s", out)
	}
	if s := sessionBy(l, "user0001"); s == nil || s["filter_id"] != "gold" {
		t.Errorf("a NAKed CoA changed the session: %v", s)
	}

	pap.Stop(10 * time.Second)
	if !strings.Contains(pap.Out.String(), "dropped by AC while held: 1") {
		t.Errorf("PAP loadgen did not see the PADT:\n%s", pap.Out.String())
	}
	chap.Stop(10 * time.Second)
	if !strings.Contains(chap.Out.String(), "dropped by AC while held: 1") {
		t.Errorf("CHAP loadgen: want exactly user0002 dropped by the AC:\n%s", chap.Out.String())
	}

	// Session-Timeout = 3 and Idle-Timeout = 4 (no traffic).
	to := l.StartLoadgen("-n", "1", "--user", "timeout%04d", "--mac-base", "71", "--hold", "20s")
	idle := l.StartLoadgen("-n", "1", "--user", "idle%04d", "--mac-base", "72", "--hold", "30s")
	for _, lg := range []*netnstest.Proc{to, idle} {
		select {
		case <-lg.Exited():
		case <-time.After(60 * time.Second):
			t.Fatal("timeout loadgen did not finish")
		}
		if !strings.Contains(lg.Out.String(), "sessions up: 1/1") || !strings.Contains(lg.Out.String(), "dropped by AC while held: 1") {
			t.Errorf("timeout session not ended by the AC:\n%s", lg.Out.String())
		}
	}
	l.WaitFor("no sessions", 15*time.Second, func() bool { return len(l.Sessions()) == 0 })

	d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.Exited():
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not exit")
	}

	// Accounting as FreeRADIUS wrote it.
	var recs []map[string]string
	l.WaitFor("Accounting-Off in the detail file", 10*time.Second, func() bool {
		recs = fr.detail(t)
		return len(records(recs, "Accounting-Off", "")) == 1
	})
	if n := len(records(recs, "Accounting-On", "")); n != 1 {
		t.Errorf("%d Accounting-On records, want 1", n)
	}
	for _, tc := range []struct {
		user, cause, ip string
		traffic         bool
	}{
		{"user0001", "User-Request", "100.64.200.1", true},
		{"user0002", "Admin-Reset", "100.64.200.2", true},
		{"pap0001", "Admin-Reset", "100.64.200.3", true},
		{"timeout0001", "Session-Timeout", "", false},
		{"idle0001", "Idle-Timeout", "", false},
	} {
		starts, stops := records(recs, "Start", tc.user), records(recs, "Stop", tc.user)
		if len(starts) != 1 || len(stops) != 1 {
			t.Errorf("%s: %d starts, %d stops; want 1 each", tc.user, len(starts), len(stops))
			continue
		}
		st, sp := starts[0], stops[0]
		if st["Acct-Session-Id"] == "" || st["Acct-Session-Id"] != sp["Acct-Session-Id"] {
			t.Errorf("%s: Acct-Session-Id start %q stop %q", tc.user, st["Acct-Session-Id"], sp["Acct-Session-Id"])
		}
		if sp["Acct-Terminate-Cause"] != tc.cause {
			t.Errorf("%s: Acct-Terminate-Cause %q, want %q", tc.user, sp["Acct-Terminate-Cause"], tc.cause)
		}
		if tc.ip != "" && (st["Framed-IP-Address"] != tc.ip || sp["Framed-IP-Address"] != tc.ip) {
			t.Errorf("%s: Framed-IP-Address %q/%q, want %s", tc.user, st["Framed-IP-Address"], sp["Framed-IP-Address"], tc.ip)
		}
		if tc.traffic && (sp["Acct-Input-Octets"] == "" || sp["Acct-Input-Octets"] == "0" || sp["Acct-Output-Octets"] == "0") {
			t.Errorf("%s: stop octets in %q out %q after pings", tc.user, sp["Acct-Input-Octets"], sp["Acct-Output-Octets"])
		}
		if _, ok := sp["Acct-Session-Time"]; !ok {
			t.Errorf("%s: stop without Acct-Session-Time: %v", tc.user, sp)
		}
	}
	if id := records(recs, "Stop", "pap0001"); len(id) == 1 && id[0]["Acct-Session-Id"] != papID {
		t.Errorf("pap0001 Acct-Session-Id %q, CLI said %q", id[0]["Acct-Session-Id"], papID)
	}
	// Class from the Access-Accept is echoed ("gold" in hex).
	for _, r := range append(records(recs, "Start", "user0001"), records(recs, "Stop", "user0001")...) {
		if r["Class"] != "0x676f6c64" {
			t.Errorf("user0001 %s: Class %q, want 0x676f6c64", r["Acct-Status-Type"], r["Class"])
		}
	}
	// accounting.interim-interval 10s, the first one jittered: user0001 was
	// up for well over 20s.
	interims := records(recs, "Interim-Update", "user0001")
	if len(interims) < 1 {
		t.Errorf("user0001: no Interim-Update")
	}
	for _, r := range interims {
		if r["Acct-Session-Id"] != records(recs, "Start", "user0001")[0]["Acct-Session-Id"] || r["Framed-IP-Address"] != "100.64.200.1" {
			t.Errorf("user0001 interim %v", r)
		}
	}
	if n := len(records(recs, "Start", "rejectme0001")); n != 0 {
		t.Errorf("rejected user accounted: %d starts", n)
	}
}

// TestIntegrationRADIUSSpool: with no accounting server answering, Starts
// and Stops are spooled on disk; they survive a bngbox restart and arrive
// exactly once when FreeRADIUS comes up. Authentication is local here, so
// sessions come up without RADIUS.
func TestIntegrationRADIUSSpool(t *testing.T) {
	requireRADIUSTools(t)
	l := newLab(t, LabOptions{Users: 3, AAA: radiusAAA("local", "0s"), Config: radiusConfig(t)})
	fr := newFreeRADIUS(t)
	d := l.StartDaemon()
	if out, err := l.Loadgen("-n", "3", "--ping", inetAddr, "--hold", "1s"); err != nil || !strings.Contains(out, "sessions up: 3/3") {
		t.Fatalf("loadgen: %v\n%s", err, out)
	}
	l.WaitFor("sessions gone", 10*time.Second, func() bool { return len(l.Sessions()) == 0 })
	d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not exit")
	}
	if !strings.Contains(d.Out.String(), "left in the spool") {
		t.Error("daemon did not report records left in the spool at stop")
	}
	if fr.detail(t) != nil {
		t.Fatal("detail file exists before FreeRADIUS ran")
	}

	d = l.StartDaemon()
	if !strings.Contains(d.Out.String(), "resuming spooled accounting records") {
		t.Errorf("restarted daemon did not resume the spool:\n%s", d.Out.String())
	}
	fr.start(l)
	var recs []map[string]string
	l.WaitFor("spooled records delivered", 60*time.Second, func() bool {
		recs = fr.detail(t)
		return len(records(recs, "Stop", "")) >= 3 && len(records(recs, "Accounting-On", "")) >= 2
	})
	time.Sleep(2 * time.Second) // duplicates, if any, would land now
	recs = fr.detail(t)
	for i := 1; i <= 3; i++ {
		u := fmt.Sprintf("user%04d", i)
		starts, stops := records(recs, "Start", u), records(recs, "Stop", u)
		if len(starts) != 1 || len(stops) != 1 {
			t.Errorf("%s: %d starts, %d stops delivered; want exactly 1 each", u, len(starts), len(stops))
			continue
		}
		if starts[0]["Acct-Session-Id"] != stops[0]["Acct-Session-Id"] || stops[0]["Acct-Terminate-Cause"] != "User-Request" {
			t.Errorf("%s: start %v stop %v", u, starts[0], stops[0])
		}
		if stops[0]["Acct-Input-Octets"] == "0" {
			t.Errorf("%s: no input octets after pings", u)
		}
		// Acct-Delay-Time tells the server how late the record is.
		if stops[0]["Acct-Delay-Time"] == "" || stops[0]["Acct-Delay-Time"] == "0" {
			t.Errorf("%s: Acct-Delay-Time %q for a spooled record", u, stops[0]["Acct-Delay-Time"])
		}
	}
	if n, m := len(records(recs, "Accounting-On", "")), len(records(recs, "Accounting-Off", "")); n != 2 || m != 1 {
		t.Errorf("Accounting-On %d (want 2, one per start), Accounting-Off %d (want 1)", n, m)
	}
}

// TestIntegrationRADIUSKillOnUnackedStart: with kill-on-unacked-start and no
// accounting server answering, the session is ended by the AC (PADT) once
// its Start failed a full round; its records still arrive later.
func TestIntegrationRADIUSKillOnUnackedStart(t *testing.T) {
	requireRADIUSTools(t)
	l := newLab(t, LabOptions{Users: 1, AAA: radiusAAA("local", "0s"), Config: radiusConfig(t) + "  kill-on-unacked-start: true\n"})
	fr := newFreeRADIUS(t)
	d := l.StartDaemon()
	out, _ := l.Loadgen("-n", "1", "--hold", "15s")
	if !strings.Contains(out, "sessions up: 1/1") || !strings.Contains(out, "dropped by AC while held: 1") {
		t.Fatalf("session with an unacknowledged Start not ended by the AC:\n%s", out)
	}
	if !strings.Contains(d.Out.String(), "Accounting-Start not acknowledged") {
		t.Error("daemon did not log why it ended the session")
	}
	fr.start(l)
	var stops []map[string]string
	l.WaitFor("the spooled Stop", 60*time.Second, func() bool {
		stops = records(fr.detail(t), "Stop", "user0001")
		return len(stops) == 1
	})
	if stops[0]["Acct-Terminate-Cause"] != "Admin-Reset" {
		t.Errorf("Stop cause %q, want Admin-Reset", stops[0]["Acct-Terminate-Cause"])
	}
}

// TestIntegrationRADIUSAuthFailover: the first auth server never answers;
// subscribers still come up through the second within the configured
// timeout, and `show radius` shows the first one as down.
func TestIntegrationRADIUSAuthFailover(t *testing.T) {
	requireRADIUSTools(t)
	cfg := strings.Replace(radiusConfig(t),
		`auth-servers: [{address: "127.0.0.1:1812", secret: `+radSecret+`}]`,
		`auth-servers: [{address: "127.0.0.1:1912", secret: `+radSecret+`, priority: 1}, {address: "127.0.0.1:1812", secret: `+radSecret+`, priority: 2}]`, 1)
	if cfg == radiusConfig(t) {
		t.Fatal("auth-servers line not replaced")
	}
	l := newLab(t, LabOptions{AAA: radiusAAA("radius", "0s"), Config: cfg})
	newFreeRADIUS(t).start(l)
	l.StartDaemon()
	start := time.Now()
	// timeout 500ms, retries 1: the dead server costs about 1s.
	if out, err := l.Loadgen("-n", "2", "--auth", "chap", "--timeout", "10s"); err != nil || !strings.Contains(out, "sessions up: 2/2") {
		t.Fatalf("loadgen via the second server: %v\n%s", err, out)
	}
	if el := time.Since(start); el > 8*time.Second {
		t.Errorf("failover took %v", el)
	}
	out, err := l.CLI("show", "radius", "json")
	if err != nil {
		t.Fatalf("show radius: %v\n%s", err, out)
	}
	var servers []struct {
		Address, Role, State string
		Requests, Timeouts   uint64
	}
	if err := json.Unmarshal([]byte(out), &servers); err != nil {
		t.Fatalf("show radius json: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, s := range servers {
		got[s.Role+" "+s.Address] = fmt.Sprintf("%s requests>0:%v timeouts>0:%v", s.State, s.Requests > 0, s.Timeouts > 0)
	}
	for k, want := range map[string]string{
		"auth 127.0.0.1:1912": "dead requests>0:true timeouts>0:true",
		"auth 127.0.0.1:1812": "alive requests>0:true timeouts>0:false",
	} {
		if got[k] != want {
			t.Errorf("show radius %s: %q, want %q\n%s", k, got[k], want, out)
		}
	}
}
