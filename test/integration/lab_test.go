//go:build integration

// Package integration runs the bngbox binary in network namespaces against
// emulated subscribers (bngbox loadgen) and real peers. Root only; run with
// `make test-integration` (BNGBOX_BIN points at the built binary).
package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bngbox/bngbox/internal/netnstest"
)

// Lab is the standard topology:
//
//	sub ──(sub0 ↔ acc0)── bng ──(up0 ↔ inet0)── inet
//
// bngbox runs in bng with acc0 as its access interface; the loadgen runs in
// sub; inet (198.51.100.2) is the far end subscribers ping through the BNG.
//
// With LabOptions.Switched the access side is a switch instead:
//
//	sub   ──(sub0 ↔ psub)──┐
//	                       br0 (in sw) ──(pbng ↔ acc0)── bng ── … inet
//	flood ──(fl0 ↔ pfl)────┘
type Lab struct {
	*netnstest.Lab
	t              *testing.T
	Sub, BNG, Inet string
	Switch, Flood  string // only with LabOptions.Switched
	Dir            string
	Config, Socket string
	AcctFile       string
	Daemon         *netnstest.Proc
}

const (
	inetAddr   = "198.51.100.2"
	bngUpAddr  = "198.51.100.1"
	subnetPool = "100.64.0.0/16"
)

func bin(t *testing.T) string {
	t.Helper()
	b := os.Getenv("BNGBOX_BIN")
	if b == "" {
		t.Fatal("BNGBOX_BIN is not set: run through `make test-integration`")
	}
	return b
}

// LabOptions tune the daemon config.
type LabOptions struct {
	Users    int      // user0001..userNNNN with password "secret"
	Extra    string   // extra users.yaml entries (YAML list items)
	VLANs    []string // pppoe.interfaces[0].vlans
	Auth     []string // ppp.auth
	Config   string   // appended to the config (top-level keys not otherwise set)
	CLI      string   // extra keys of the cli map, flow style (e.g. "telnet-listen: 127.0.0.1:2000")
	EchoInt  string   // ppp.lcp-echo-interval
	EchoFail int      // ppp.lcp-echo-failure (0: the default)
	// Switched puts a Linux bridge (namespace sw) between the BNG and
	// both the subscriber namespace and a second one, flood.
	Switched bool
	// AAA replaces the auth and accounting sections (YAML); default: the
	// local users file and JSON-lines accounting to AcctFile.
	AAA string
}

func newLab(t *testing.T, o LabOptions) *Lab {
	t.Helper()
	l := &Lab{Lab: netnstest.New(t, "bb"), t: t, Dir: t.TempDir()}
	l.Sub, l.BNG, l.Inet = l.NS("s"), l.NS("b"), l.NS("i")
	if o.Switched {
		l.Switch, l.Flood = l.NS("w"), l.NS("f")
		l.Exec(l.Switch, "ip", "link", "add", "br0", "type", "bridge")
		l.Veth(l.Sub, "sub0", l.Switch, "psub")
		l.Veth(l.Flood, "fl0", l.Switch, "pfl")
		l.Veth(l.Switch, "pbng", l.BNG, "acc0")
		for _, p := range []string{"psub", "pfl", "pbng"} {
			l.Exec(l.Switch, "ip", "link", "set", p, "master", "br0")
		}
		l.Exec(l.Switch, "ip", "link", "set", "br0", "up")
	} else {
		l.Veth(l.Sub, "sub0", l.BNG, "acc0")
	}
	l.Veth(l.BNG, "up0", l.Inet, "inet0")
	l.Exec(l.BNG, "ip", "addr", "add", bngUpAddr+"/24", "dev", "up0")
	l.Exec(l.Inet, "ip", "addr", "add", inetAddr+"/24", "dev", "inet0")
	l.Exec(l.Inet, "ip", "route", "add", subnetPool, "via", bngUpAddr)
	l.Exec(l.BNG, "sysctl", "-qw", "net.ipv4.ip_forward=1")

	var users strings.Builder
	users.WriteString("users:\n")
	for i := 1; i <= o.Users; i++ {
		fmt.Fprintf(&users, "  - {name: user%04d, password: secret}\n", i)
	}
	users.WriteString(o.Extra)
	os.WriteFile(filepath.Join(l.Dir, "users.yaml"), []byte(users.String()), 0o600)

	if o.VLANs == nil {
		o.VLANs = []string{"untagged"}
	}
	if o.Auth == nil {
		o.Auth = []string{"chap", "pap"}
	}
	cliKeys := ""
	if o.CLI != "" {
		cliKeys = ", " + o.CLI
	}
	if o.EchoInt == "" {
		o.EchoInt = "10s"
	}
	echoFail := ""
	if o.EchoFail > 0 {
		echoFail = fmt.Sprintf("\n  lcp-echo-failure: %d", o.EchoFail)
	}
	if o.AAA == "" {
		o.AAA = "auth: {backend: local, users-file: users.yaml}\naccounting: {file: acct.jsonl, interim-interval: 0s}"
	}
	l.Socket = filepath.Join(l.Dir, "cli.sock")
	l.AcctFile = filepath.Join(l.Dir, "acct.jsonl")
	q := func(ss []string) string { return "[" + strings.Join(ss, ", ") + "]" }
	cfg := fmt.Sprintf(`log: {level: debug}
dataplane: userspace
pppoe:
  interfaces:
    - name: acc0
      vlans: %s
  padi-rate-per-mac: 100
ppp:
  auth: %s
  lcp-echo-interval: %s%s
  dns: [192.0.2.53]
pools:
  - {name: default, range: %s}
%s
cli: {socket: %s%s}
%s`, q(o.VLANs), q(o.Auth), o.EchoInt, echoFail, subnetPool, o.AAA, l.Socket, cliKeys, o.Config)
	l.Config = filepath.Join(l.Dir, "bngbox.yaml")
	os.WriteFile(l.Config, []byte(cfg), 0o600)
	return l
}

// StartDaemon runs bngbox in the bng namespace and waits until it serves.
func (l *Lab) StartDaemon() *netnstest.Proc {
	l.t.Helper()
	l.Daemon = l.Start(l.BNG, bin(l.t), "run", "-c", l.Config)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Daemon.WaitOutput(ctx, "bngbox running"); err != nil {
		l.t.Fatal(err)
	}
	return l.Daemon
}

// CLI runs `bngbox cli` against the daemon and returns stdout.
func (l *Lab) CLI(args ...string) (string, error) {
	cmd := exec.Command(bin(l.t), append([]string{"cli", "--socket", l.Socket}, args...)...)
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out) + string(ee.Stderr), err
	}
	return string(out), err
}

// Loadgen runs the subscriber emulator in the sub namespace to completion.
func (l *Lab) Loadgen(args ...string) (string, error) {
	return l.Try(l.Sub, append([]string{bin(l.t), "loadgen", "-i", "sub0"}, args...)...)
}

// StartLoadgen runs the emulator in the background.
func (l *Lab) StartLoadgen(args ...string) *netnstest.Proc {
	return l.Start(l.Sub, append([]string{bin(l.t), "loadgen", "-i", "sub0"}, args...)...)
}

// acctRecord is one line of the accounting file.
type acctRecord struct {
	Type      string  `json:"type"`
	SessionID string  `json:"session_id"`
	User      string  `json:"username"`
	IP        string  `json:"ip"`
	In        uint64  `json:"input_octets"`
	Out       uint64  `json:"output_octets"`
	Cause     string  `json:"terminate_cause"`
	Time      float64 `json:"session_time_s"`
}

// Acct reads the accounting file.
func (l *Lab) Acct() []acctRecord {
	data, _ := os.ReadFile(l.AcctFile)
	var out []acctRecord
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var r acctRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			l.t.Fatalf("accounting line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// WaitFor polls cond until it holds or the timeout passes.
func (l *Lab) WaitFor(what string, timeout time.Duration, cond func() bool) {
	l.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			l.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// SessionsJSON returns `show sessions json`.
func (l *Lab) Sessions() []map[string]any {
	l.t.Helper()
	out, err := l.CLI("show", "sessions", "json")
	if err != nil {
		l.t.Fatalf("show sessions: %v\n%s", err, out)
	}
	var v []map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		l.t.Fatalf("show sessions json: %v\n%s", err, out)
	}
	return v
}

func count(rs []acctRecord, typ, cause string) int {
	n := 0
	for _, r := range rs {
		if r.Type == typ && (cause == "" || r.Cause == cause) {
			n++
		}
	}
	return n
}
