//go:build integration

package radius

// Topology (all loopback, ports picked at run time):
//
//	Client (this test) ──UDP──► freeradius -f -d <tmp> (auth, acct → detail file)
//	radclient ──UDP coa/disconnect──► DAServer ──► fakeAPI (records calls)

import (
	"bufio"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bngbox/bngbox/internal/radtest"
	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/dataplane"
	"github.com/bngbox/bngbox/pkg/rate"
	"github.com/bngbox/bngbox/pkg/session"
)

const frSecret = "testing123"

var testSessionIDs = aaa.NewSessionIDs(time.Now())

const frUsers = `alice Cleartext-Password := "secret"
	Framed-IP-Address = 10.0.0.5,
	Session-Timeout = 3600,
	Idle-Timeout = 600,
	Acct-Interim-Interval = 300,
	Class = "plan-gold",
	Framed-Route = "192.0.2.0/24 0.0.0.0 1",
	MS-Primary-DNS-Server = 8.8.8.8,
	MS-Secondary-DNS-Server = 1.1.1.1,
	Mikrotik-Rate-Limit = "5M/20M 10M/40M"

bob Cleartext-Password := "chappass"
	Framed-Pool = "main",
	RP-Upstream-Speed-Limit = 2000,
	RP-Downstream-Speed-Limit = 10000

mallory Cleartext-Password := "x", Auth-Type := Reject
	Reply-Message = "account suspended"
`

// freePort returns a UDP port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// fr is one running FreeRADIUS.
type fr struct {
	dir              string
	authPort, acctPr int
	cmd              *exec.Cmd
}

func (f *fr) auth() string { return fmt.Sprintf("127.0.0.1:%d", f.authPort) }
func (f *fr) acct() string { return fmt.Sprintf("127.0.0.1:%d", f.acctPr) }

// startFreeRADIUS writes a config into a temp dir and starts freeradius in
// the foreground; it is killed (by PID) at cleanup. acctPort 0 picks one.
func startFreeRADIUS(t *testing.T, acctPort int) *fr {
	t.Helper()
	if _, err := exec.LookPath("freeradius"); err != nil {
		t.Fatalf("freeradius is required (apt-get install freeradius): %v", err)
	}
	f := &fr{dir: t.TempDir(), authPort: freePort(t), acctPr: acctPort}
	if f.acctPr == 0 {
		f.acctPr = freePort(t)
	}
	if err := radtest.Write(radtest.Config{Dir: f.dir, Secret: frSecret, AuthPort: f.authPort, AcctPort: f.acctPr, Users: frUsers}); err != nil {
		t.Fatal(err)
	}
	f.cmd = exec.Command("freeradius", "-f", "-d", f.dir, "-l", "stdout")
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f.cmd.Stderr = f.cmd.Stdout
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.stop)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to process requests") {
				once.Do(func() { close(ready) })
			}
			if testing.Verbose() {
				t.Log("freeradius: " + sc.Text())
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("freeradius did not become ready")
	}
	return f
}

func (f *fr) stop() {
	if f.cmd != nil && f.cmd.Process != nil {
		_ = f.cmd.Process.Kill()
		_ = f.cmd.Wait()
		f.cmd = nil
	}
}

// detail parses the detail file into records (attribute → value, quotes
// stripped).
func (f *fr) detail(t *testing.T) []map[string]string {
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

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func baseConfig(t *testing.T) Config {
	return Config{
		Timeout: 500 * time.Millisecond, Retries: 1, DeadTime: time.Minute,
		NASIdentifier: "bngbox-test", NASIPAddress: netip.MustParseAddr("127.0.0.1"),
		SpoolPath:    filepath.Join(t.TempDir(), "spool.db"),
		Dictionaries: []string{"../../../etc/dictionary.bngbox"},
		Logger:       testLogger(t),
	}
}

func TestIntegrationAuth(t *testing.T) {
	f := startFreeRADIUS(t, 0)
	cfg := baseConfig(t)
	cfg.AuthServers = []Server{{Address: f.auth(), Secret: frSecret}}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	t.Run("pap accept", func(t *testing.T) {
		r, err := c.Authenticate(ctx, &aaa.Request{SessionID: testSessionIDs.Next(), User: "alice", Method: aaa.PAP, Password: "secret",
			CallingStationID: "02:00:00:00:00:01", NASPortID: "eth1:100", PortType: aaa.PortEthernet})
		if err != nil {
			t.Fatal(err)
		}
		want := aaa.Reply{
			FramedIP: netip.MustParseAddr("10.0.0.5"), SessionTimeout: time.Hour, IdleTimeout: 10 * time.Minute,
			InterimInterval: 5 * time.Minute, Class: [][]byte{[]byte("plan-gold")},
			Routes: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
			DNS:    []netip.Addr{netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("1.1.1.1")},
			Rates:  rate.Rates{Up: 5_000_000, Down: 20_000_000},
		}
		if d := diffReply(&want, r); d != "" {
			t.Error(d)
		}
	})
	t.Run("chap accept", func(t *testing.T) {
		ch := []byte("0123456789abcdef")
		id := byte(7)
		h := md5.New()
		h.Write([]byte{id})
		h.Write([]byte("chappass"))
		h.Write(ch)
		r, err := c.Authenticate(ctx, &aaa.Request{SessionID: testSessionIDs.Next(), User: "bob", Method: aaa.CHAP, ChapID: id, Challenge: ch, Response: h.Sum(nil)})
		if err != nil {
			t.Fatal(err)
		}
		want := aaa.Reply{Pool: "main", Rates: rate.Rates{Up: 2_000_000, Down: 10_000_000}}
		if d := diffReply(&want, r); d != "" {
			t.Error(d)
		}
	})
	t.Run("chap wrong", func(t *testing.T) {
		_, err := c.Authenticate(ctx, &aaa.Request{User: "bob", Method: aaa.CHAP, ChapID: 1, Challenge: []byte("x"), Response: make([]byte, 16)})
		var rej *aaa.Reject
		if !errors.As(err, &rej) {
			t.Fatalf("want reject, got %v", err)
		}
	})
	t.Run("reject with message", func(t *testing.T) {
		_, err := c.Authenticate(ctx, &aaa.Request{User: "mallory", Method: aaa.PAP, Password: "x"})
		var rej *aaa.Reject
		if !errors.As(err, &rej) || rej.Message != "account suspended" {
			t.Fatalf("want reject with message, got %v", err)
		}
	})
	t.Run("l2tp tunnel attributes", func(t *testing.T) {
		_, err := c.Authenticate(ctx, &aaa.Request{User: "alice", Method: aaa.PAP, Password: "secret", PortType: aaa.PortVirtual,
			Tunnel: &aaa.Tunnel{ClientEndpoint: "192.0.2.1", ServerEndpoint: "192.0.2.2", ClientAuthID: "lac1", TunnelID: 1, SessionID: 2}})
		if err != nil {
			t.Fatal(err)
		}
	})
	if m := c.Counters(); m["bad_authenticator"] != 0 || m["access_accept"] != 3 {
		t.Errorf("counters %v", m)
	}
}

func diffReply(want, got *aaa.Reply) string {
	w, g := fmt.Sprintf("%+v", *want), fmt.Sprintf("%+v", *got)
	if w != g {
		return fmt.Sprintf("reply:\nwant %s\n got %s", w, g)
	}
	return ""
}

func TestIntegrationFailover(t *testing.T) {
	f := startFreeRADIUS(t, 0)
	cfg := baseConfig(t)
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.Timeout, cfg.Retries = 300*time.Millisecond, -1
	cfg.AuthServers = []Server{{Address: f.auth(), Secret: frSecret, Priority: 2}, {Address: dead, Secret: frSecret, Priority: 1}}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Authenticate(context.Background(), &aaa.Request{User: "alice", Method: aaa.PAP, Password: "secret"}); err != nil {
		t.Fatal(err)
	}
	// One attempt (Retries -1) of 300 ms at the dead server, then the live
	// one; generous bound for a loaded machine.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failover took %v", d)
	}
	// The dead server is now held down: the next request goes straight to
	// the live one.
	if _, err := c.Authenticate(context.Background(), &aaa.Request{User: "alice", Method: aaa.PAP, Password: "secret"}); err != nil {
		t.Fatal(err)
	}
	srv := c.Servers()
	if srv[0].Address != dead || srv[0].State != "dead" || srv[0].Requests != 1 || srv[0].Timeouts != 1 ||
		srv[1].State != "alive" || srv[1].Requests != 2 {
		t.Errorf("servers %+v", srv)
	}
}

func acctRec(typ aaa.AcctType, sid string, rx, tx uint64, st time.Duration) *aaa.AcctRecord {
	return &aaa.AcctRecord{
		Type: typ, Time: time.Unix(1_800_000_000, 0),
		Request:     &aaa.Request{SessionID: sid, User: "alice", PortType: aaa.PortEthernet, NASPortID: "eth1", CallingStationID: "02:00:00:00:00:01"},
		Reply:       &aaa.Reply{Class: [][]byte{[]byte("plan-gold")}},
		FramedIP:    netip.MustParseAddr("10.0.0.5"),
		SessionTime: st,
		Stats:       dataplane.Stats{RxBytes: rx, TxBytes: tx, RxPackets: 1000, TxPackets: 2000},
		Cause:       aaa.CauseAdminReset,
	}
}

// waitSpoolEmpty polls the client's counters (integration only).
func waitSpoolEmpty(t *testing.T, c *Client) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for c.Counters()["spool_records"] != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool not drained: %v", c.Counters())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIntegrationAccounting(t *testing.T) {
	f := startFreeRADIUS(t, 0)
	cfg := baseConfig(t)
	cfg.AcctServers = []Server{{Address: f.acct(), Secret: frSecret}}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sid := testSessionIDs.Next()
	big := uint64(5)<<32 + 12345 // > 4 GiB: 5 Gigawords
	for _, r := range []*aaa.AcctRecord{
		{Type: aaa.AcctOn, Time: time.Unix(1_800_000_000, 0)},
		acctRec(aaa.AcctStart, sid, 0, 0, 0),
		acctRec(aaa.AcctInterim, sid, 1000, 2000, 300*time.Second),
		acctRec(aaa.AcctStop, sid, big, 7, 600*time.Second),
	} {
		if err := c.Account(r); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Drain(ctx); err != nil {
		t.Fatalf("drain: %v (%v)", err, c.Counters())
	}
	recs := f.detail(t)
	if len(recs) != 4 {
		t.Fatalf("want 4 detail records, got %d: %v", len(recs), recs)
	}
	for i, want := range []map[string]string{
		{"Acct-Status-Type": "Accounting-On", "NAS-Identifier": "bngbox-test"},
		{"Acct-Status-Type": "Start", "Acct-Session-Id": sid, "User-Name": "alice", "Class": "0x706c616e2d676f6c64",
			"Framed-IP-Address": "10.0.0.5", "NAS-Port-Type": "Ethernet", "Calling-Station-Id": "02:00:00:00:00:01", "NAS-Port-Id": "eth1"},
		{"Acct-Status-Type": "Interim-Update", "Acct-Input-Octets": "1000", "Acct-Output-Octets": "2000", "Acct-Input-Gigawords": "0",
			"Acct-Session-Time": "300", "Acct-Input-Packets": "1000", "Acct-Output-Packets": "2000"},
		{"Acct-Status-Type": "Stop", "Acct-Input-Octets": "12345", "Acct-Input-Gigawords": "5", "Acct-Output-Octets": "7",
			"Acct-Output-Gigawords": "0", "Acct-Terminate-Cause": "Admin-Reset", "Acct-Session-Time": "600", "Acct-Session-Id": sid},
	} {
		for k, v := range want {
			if got := recs[i][k]; got != v && !(k == "Class" && got == "plan-gold") {
				t.Errorf("record %d %s: want %q, got %q", i, k, v, got)
			}
		}
		if _, ok := recs[i]["Acct-Delay-Time"]; !ok {
			t.Errorf("record %d: no Acct-Delay-Time", i)
		}
		if !strings.Contains(recs[i]["Event-Timestamp"], "2027") {
			t.Errorf("record %d: Event-Timestamp %q", i, recs[i]["Event-Timestamp"])
		}
	}
}

// TestIntegrationSpool: no server answers → records stay spooled (and the
// unacked-start hook fires); the client restarts; a server appears → every
// record arrives exactly once, in order per session.
func TestIntegrationSpool(t *testing.T) {
	cfg := baseConfig(t)
	acctPort := freePort(t)
	cfg.AcctServers = []Server{{Address: fmt.Sprintf("127.0.0.1:%d", acctPort), Secret: frSecret}}
	cfg.Timeout, cfg.Retries = 200*time.Millisecond, -1
	cfg.KillOnUnackedStart = true
	unacked := make(chan string, 16)
	cfg.OnStartUnacked = func(sid string) { unacked <- sid }
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var sids []string
	for range 3 {
		sid := testSessionIDs.Next()
		sids = append(sids, sid)
		for _, r := range []*aaa.AcctRecord{
			acctRec(aaa.AcctStart, sid, 0, 0, 0),
			acctRec(aaa.AcctInterim, sid, 1, 1, time.Second),
			acctRec(aaa.AcctStop, sid, 2, 2, 2*time.Second),
		} {
			if err := c.Account(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := map[string]bool{}
	for len(got) < 3 {
		select {
		case sid := <-unacked:
			got[sid] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("unacked-start hook fired for %v only", got)
		}
	}
	if n := c.Counters()["spool_records"]; n != 9 {
		t.Fatalf("spool holds %d records, want 9", n)
	}
	c.Close()
	// Let at least a second pass since the records were spooled so that
	// Acct-Delay-Time must show it.
	time.Sleep(1100 * time.Millisecond)

	f := startFreeRADIUS(t, acctPort)
	cfg.OnStartUnacked = nil
	c2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	waitSpoolEmpty(t, c2)
	recs := f.detail(t)
	if len(recs) != 9 {
		t.Fatalf("want 9 records exactly once, got %d", len(recs))
	}
	seq := map[string][]string{}
	for _, r := range recs {
		seq[r["Acct-Session-Id"]] = append(seq[r["Acct-Session-Id"]], r["Acct-Status-Type"])
		// Delivered ≥ 1.1 s after Account: the delay counts from when the
		// record was spooled, not from the first send.
		if d, err := strconv.Atoi(r["Acct-Delay-Time"]); err != nil || d < 1 {
			t.Errorf("Acct-Delay-Time %q, want ≥ 1", r["Acct-Delay-Time"])
		}
	}
	for _, sid := range sids {
		if s := strings.Join(seq[sid], ","); s != "Start,Interim-Update,Stop" {
			t.Errorf("session %s: got %s", sid, s)
		}
	}
}

// radclient sends one request and returns its output.
func radclient(t *testing.T, addr net.Addr, cmd, secret, attrs string) (string, error) {
	t.Helper()
	c := exec.Command("radclient", "-x", "-t", "1", "-r", "1", addr.String(), cmd, secret)
	c.Stdin = strings.NewReader(attrs)
	out, err := c.CombinedOutput()
	return string(out), err
}

func TestIntegrationDynAuth(t *testing.T) {
	if _, err := exec.LookPath("radclient"); err != nil {
		t.Fatalf("radclient is required (apt-get install freeradius-utils): %v", err)
	}
	cl, err := New(Config{NASIdentifier: "bngbox-test", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	api := &fakeAPI{sessions: []session.Info{
		{ID: "00000001DEADBEEF", User: "alice", IP: netip.MustParseAddr("10.0.0.5"), Port: "eth1:100", CallingSID: "02:00:00:00:00:01"},
		{ID: "00000001DEADBEF0", User: "bob", IP: netip.MustParseAddr("10.0.0.6")},
	}}
	da, err := NewDAServer(DAConfig{
		Listen:        "127.0.0.1:0",
		Clients:       []DAClient{{Address: netip.MustParseAddr("127.0.0.1"), Secret: "coasecret"}},
		NASIdentifier: "bngbox-test", Logger: testLogger(t),
	}, api, cl.Interpreter())
	if err != nil {
		t.Fatal(err)
	}
	defer da.Close()
	ts := strconv.FormatInt(time.Now().Unix(), 10)

	for _, tc := range []struct {
		name, cmd, secret, attrs string
		wantOut                  string // substring of radclient output; "" = no reply
		wantCall                 string
	}{
		{"disconnect by sid", "disconnect", "coasecret", "Acct-Session-Id = 00000001DEADBEEF, Message-Authenticator = 0x00, Event-Timestamp = " + ts,
			"Received Disconnect-ACK", "terminate sid=00000001DEADBEEF hard=false n=1"},
		{"coa rates mikrotik", "coa", "coasecret", `User-Name = "alice", Mikrotik-Rate-Limit = "1M/2M", Message-Authenticator = 0x00`,
			"Received CoA-ACK", "change username=alice rates=2M/1M coa n=1"},
		{"coa rates by ip and calling", "coa", "coasecret", `Framed-IP-Address = 10.0.0.5, Calling-Station-Id = "02:00:00:00:00:01", RP-Downstream-Speed-Limit = 8000, RP-Upstream-Speed-Limit = 1000`,
			"Received CoA-ACK", "change sid=00000001DEADBEEF rates=8M/1M coa n=1"},
		{"unknown session", "disconnect", "coasecret", `User-Name = "nobody"`,
			"Error-Cause = Session-Context-Not-Found", "terminate username=nobody hard=false n=0"},
		{"coa session-timeout", "coa", "coasecret", `User-Name = "alice", Session-Timeout = 60, Acct-Interim-Interval = 120`,
			"Received CoA-ACK", "change username=alice session-timeout=1m0s interim=2m0s coa n=1"},
		{"unsupported attribute", "coa", "coasecret", `User-Name = "alice", Session-Timeout = 60, Framed-Pool = "p"`,
			"Error-Cause = Unsupported-Attribute", ""},
		{"nas mismatch", "disconnect", "coasecret", `User-Name = "alice", NAS-Identifier = "other"`,
			"Error-Cause = NAS-Identification-Mismatch", ""},
		{"missing identity", "disconnect", "coasecret", `NAS-Identifier = "bngbox-test"`,
			"Error-Cause = Missing-Attribute", ""},
		{"bad secret", "disconnect", "wrong", `User-Name = "alice"`, "", ""},
		{"stale timestamp", "disconnect", "coasecret", `User-Name = "alice", Event-Timestamp = 1000000000`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(api.Calls())
			out, err := radclient(t, da.Addr(), tc.cmd, tc.secret, tc.attrs)
			if tc.wantOut == "" {
				if strings.Contains(out, "Received") {
					t.Fatalf("want no reply, radclient said:\n%s", out)
				}
			} else if !strings.Contains(out, tc.wantOut) {
				t.Fatalf("want %q, radclient (%v) said:\n%s", tc.wantOut, err, out)
			}
			calls := api.Calls()[before:]
			if tc.wantCall == "" && len(calls) != 0 || tc.wantCall != "" && (len(calls) != 1 || calls[0] != tc.wantCall) {
				t.Errorf("calls %q, want %q", calls, tc.wantCall)
			}
		})
	}
	m := da.Counters()
	if m["drop_bad_authenticator"] == 0 || m["drop_stale_event_timestamp"] == 0 {
		t.Errorf("counters %v", m)
	}

	t.Run("unknown client", func(t *testing.T) {
		other, err := NewDAServer(DAConfig{Listen: "127.0.0.1:0", Clients: []DAClient{{Address: netip.MustParseAddr("127.0.0.2"), Secret: "coasecret"}}},
			api, cl.Interpreter())
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		out, _ := radclient(t, other.Addr(), "disconnect", "coasecret", `User-Name = "alice"`)
		if strings.Contains(out, "Received") || other.Counters()["drop_unknown_client"] == 0 {
			t.Fatalf("unknown client answered: %s %v", out, other.Counters())
		}
	})
}

// TestIntegrationAcctFailoverAndRestart: the first accounting server is
// dead, so records go to the second; then the second dies too and comes
// back (a new FreeRADIUS on the same port) while the client keeps running:
// every record arrives exactly once across both detail files.
func TestIntegrationAcctFailoverAndRestart(t *testing.T) {
	f1 := startFreeRADIUS(t, 0)
	cfg := baseConfig(t)
	cfg.Timeout, cfg.Retries, cfg.DeadTime = 300*time.Millisecond, -1, 2*time.Second
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.AcctServers = []Server{{Address: dead, Secret: frSecret}, {Address: f1.acct(), Secret: frSecret}}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sent := map[string]int{}
	account := func(n int) {
		for range n {
			sid := testSessionIDs.Next()
			for _, typ := range []aaa.AcctType{aaa.AcctStart, aaa.AcctStop} {
				if err := c.Account(acctRec(typ, sid, 10, 20, time.Second)); err != nil {
					t.Fatal(err)
				}
				sent[sid]++
			}
		}
	}
	account(5)
	if err := c.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if s := c.Servers(); s[0].State != "dead" || s[1].State != "alive" {
		t.Errorf("servers %+v", s)
	}

	f1.stop()
	account(5)
	f2 := startFreeRADIUS(t, f1.acctPr)
	if err := c.Drain(ctx); err != nil {
		t.Fatalf("drain: %v (%v)", err, c.Counters())
	}
	got := map[string]int{}
	for _, r := range append(f1.detail(t), f2.detail(t)...) {
		got[r["Acct-Session-Id"]]++
	}
	if fmt.Sprint(got) != fmt.Sprint(sent) {
		t.Errorf("records per session:\n got %v\nwant %v", got, sent)
	}
}
