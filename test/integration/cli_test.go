//go:build integration

package integration

// The management CLI against the real daemon, over every way in:
//
//	sub ──(sub0 ↔ acc0)── bng ──(up0 ↔ inet0)── inet
//	 loadgen (100 held)    bngbox  cli.sock (bngbox cli, bngctl)
//	                              127.0.0.1:2000 telnet ◄── Debian telnet (expect), in bng
//	                              127.0.0.1:2022 ssh    ◄── OpenSSH ssh (or x/crypto/ssh), in bng

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// telnetScript drives the Debian telnet client (netkit) through an
// operator's visit: wrong password, login, show sessions, TAB completion
// of "sh" into "show stat", terminate by username, exit. Every expect has
// its own timeout branch naming the step, so a failure says what broke.
// argv: host port hostname user-to-terminate transcript-file.
const telnetScript = `
set timeout 20
match_max 200000
set host [lindex $argv 0]
set port [lindex $argv 1]
set prompt "[lindex $argv 2]> "
set victim [lindex $argv 3]
log_file -noappend [lindex $argv 4]
proc fail {what} { puts "\nEXPECT-FAIL: $what"; exit 1 }
spawn telnet $host $port
expect timeout { fail "password prompt" } "Password: "
send "wrong\r"
expect timeout { fail "login incorrect" } "Login incorrect"
expect timeout { fail "second password prompt" } "Password: "
send "s3cret\r"
expect timeout { fail "prompt" } $prompt
send "show sessions\r"
expect timeout { fail "show sessions table" } -re {user0100[^\n]*\n}
expect timeout { fail "prompt after show sessions" } $prompt
send "sh\t"
expect timeout { fail "tab completion of sh" } "show "
send "stat\r"
expect timeout { fail "show stat" } -re {goroutines: +[0-9]+}
expect timeout { fail "prompt after show stat" } $prompt
send "terminate $victim\r"
expect timeout { fail "terminate" } "terminated 1 session"
expect timeout { fail "prompt after terminate" } $prompt
send "exit\r"
expect timeout { fail "close after exit" } eof
puts "\nEXPECT-OK"
`

// sshShellScript drives the OpenSSH client's interactive shell (pty):
// argv: key hostname netns.
const sshShellScript = `
set timeout 20
set key [lindex $argv 0]
set prompt "[lindex $argv 1]> "
proc fail {what} { puts "\nEXPECT-FAIL: $what"; exit 1 }
spawn ip netns exec [lindex $argv 2] ssh -tt -F /dev/null -i $key -p 2022 -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR ops@127.0.0.1
expect timeout { fail "prompt" } $prompt
send "sh\t"
expect timeout { fail "tab completion of sh" } "show "
send "stat\r"
expect timeout { fail "show stat" } -re {active: +3\r}
expect timeout { fail "prompt after show stat" } $prompt
send "exit\r"
expect timeout { fail "close after exit" } eof
puts "\nEXPECT-OK"
`

// TestIntegrationCLITelnet: with 100 subscribers held, an operator uses
// the Debian telnet client on the daemon's shell (wrong password refused,
// show sessions lists all 100, TAB completes, show stat has the daemon's
// real numbers, terminate by username). The terminated subscriber gets a
// PADT and an Admin-Reset Stop; bngctl and `bngbox cli` agree with the
// live table and exit 0/1/2.
func TestIntegrationCLITelnet(t *testing.T) {
	for _, b := range []string{"telnet", "expect"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s is required (apt-get install telnet expect)", b)
		}
	}
	const n = 100
	l := newLab(t, LabOptions{Users: n, CLI: "telnet-listen: 127.0.0.1:2000, telnet-password: s3cret"})
	l.StartDaemon()

	// Real counters for show stat: one wrong password, one PADI on a VLAN
	// the AC does not serve.
	if out, err := l.Loadgen("-n", "1", "--password", "wrong", "--timeout", "3s", "--mac-base", "112"); err == nil {
		t.Fatalf("wrong password came up:\n%s", out)
	}
	if out, err := l.Loadgen("-n", "1", "--vlan", "111", "--timeout", "2s", "--mac-base", "113"); err == nil {
		t.Fatalf("VLAN 111 came up:\n%s", out)
	}
	lg := l.StartLoadgen("-n", strconv.Itoa(n), "--hold", "-1s")
	l.WaitFor("100 active sessions", 60*time.Second, func() bool { return activeCount(l.Sessions()) == n })

	// bngctl is the binary under another name: same output as bngbox cli.
	ctl := filepath.Join(l.Dir, "bngctl")
	if err := os.Symlink(bin(t), ctl); err != nil {
		t.Fatal(err)
	}
	viaCtl, code := run(t, ctl, "--socket", l.Socket, "show", "sessions", "json")
	viaCLI, _ := run(t, bin(t), "cli", "--socket", l.Socket, "show", "sessions", "json")
	if code != 0 {
		t.Fatalf("bngctl show sessions json: exit %d\n%s", code, viaCtl)
	}
	users := func(js string) []string {
		var ss []map[string]any
		if err := json.Unmarshal([]byte(js), &ss); err != nil {
			t.Fatalf("show sessions json does not parse: %v\n%.500s", err, js)
		}
		var us []string
		for _, s := range ss {
			u, _ := s["username"].(string)
			us = append(us, u)
		}
		slices.Sort(us)
		return us
	}
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, fmt.Sprintf("user%04d", i))
	}
	if got := users(viaCtl); !slices.Equal(got, want) {
		t.Errorf("bngctl show sessions json users = %v, want user0001..user0100", got)
	}
	if got := users(viaCLI); !slices.Equal(got, want) {
		t.Errorf("bngbox cli show sessions json users = %v, want user0001..user0100", got)
	}

	// The telnet shell.
	host, _ := os.Hostname()
	script := filepath.Join(l.Dir, "telnet.exp")
	transcript := filepath.Join(l.Dir, "telnet.log")
	os.WriteFile(script, []byte(telnetScript), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", l.BNG, "expect", "-f", script, "127.0.0.1", "2000", host, "user0042", transcript)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "EXPECT-OK") {
		t.Fatalf("expect: %v\n%s", err, tail(string(out), 6000))
	}
	tr, _ := os.ReadFile(transcript)
	text := strings.ReplaceAll(string(tr), "\r", "")
	rows := regexp.MustCompile(`(?m)^ ppp\d+ +\| user(\d{4}) +\| 100\.64\.\d+\.\d+ .*\| pppoe +\| active `).FindAllStringSubmatch(text, -1)
	listed := map[string]bool{}
	for _, r := range rows {
		listed[r[1]] = true
	}
	if len(listed) != n {
		t.Errorf("telnet show sessions listed %d distinct active sessions, want %d:\n%s", len(listed), n, tail(text, 3000))
	}
	// show stat: real numbers from this daemon.
	for _, re := range []string{
		`(?m)^uptime: +\d+:\d\d:\d\d$`,
		`(?m)^sessions: +100$`,
		`(?m)^  active: +100$`,
		`(?m)^setup-rate: +\d+\.\d/s \(10 s\)$`,
		`(?m)^auth-ok: +100$`,
		`(?m)^auth-fail: +1$`,
		`(?m)^  pppoe-vlan-not-served: +[1-9]\d*$`,
		`(?m)^heap-inuse: +[0-9.]+ [KMG]iB$`,
		`(?m)^rss: +[0-9.]+ [KMG]iB$`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("show stat over telnet lacks %s", re)
		}
	}
	if i := strings.LastIndex(text, "uptime:"); i >= 0 {
		t.Logf("show stat over telnet:\n%s", tail(text[i:], 600))
	}
	if t.Failed() {
		t.Logf("transcript:\n%s", tail(text, 4000))
	}

	// The terminated subscriber is gone, with an Admin-Reset Stop.
	l.WaitFor("99 sessions", 15*time.Second, func() bool { return len(l.Sessions()) == n-1 })
	l.WaitFor("the Stop record", 10*time.Second, func() bool { return count(l.Acct(), "stop", "") == 1 })
	for _, r := range l.Acct() {
		if r.Type == "stop" && (r.User != "user0042" || r.Cause != "Admin-Reset") {
			t.Errorf("stop %+v, want user0042 Admin-Reset", r)
		}
	}

	// Exit codes, bngctl and bngbox cli alike.
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"show", "stat"}, 0, "active:"},
		{[]string{"sh", "sess", "match", "username", "^user0001$"}, 0, "user0001"},
		{[]string{"terminate", "nosuchuser"}, 1, "error:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"show", "sessions", "order"}, 2, "error:"},
	} {
		for _, argv := range [][]string{
			append([]string{ctl, "--socket", l.Socket}, tc.args...),
			append([]string{bin(t), "cli", "--socket", l.Socket}, tc.args...),
		} {
			out, code := run(t, argv[0], argv[1:]...)
			if code != tc.code || !strings.Contains(out, tc.out) {
				t.Errorf("%s: exit %d, want %d; output lacks %q?\n%s", strings.Join(argv[1:], " "), code, tc.code, tc.out, out)
			}
		}
	}
	if out, code := run(t, ctl, "--socket", filepath.Join(l.Dir, "nope.sock"), "show", "stat"); code != 1 {
		t.Errorf("unreachable daemon: exit %d, want 1\n%s", code, out)
	}

	lg.Stop(10 * time.Second)
	if !strings.Contains(lg.Out.String(), "dropped by AC while held: 1") {
		t.Errorf("the terminated subscriber saw no PADT; loadgen report:\n%s", lg.Out.String())
	}
}

// TestIntegrationCLISSH: cli.ssh-listen with a generated host key and an
// authorized_keys file; an SSH client logs in with its key and runs
// show stat (real numbers) as a one-shot command and, with OpenSSH and
// expect installed, in the interactive shell (pty, TAB); exit codes follow
// bngbox cli; an unknown key is refused.
func TestIntegrationCLISSH(t *testing.T) {
	const n = 3
	keyDir := t.TempDir()
	l := newLab(t, LabOptions{Users: n, CLI: fmt.Sprintf("ssh-listen: 127.0.0.1:2022, ssh-host-key: %s, ssh-authorized-keys: %s",
		filepath.Join(keyDir, "host", "ssh_host_ed25519_key"), filepath.Join(keyDir, "authorized_keys"))})
	id := filepath.Join(keyDir, "id_ed25519")
	other := filepath.Join(keyDir, "other")
	for _, k := range []string{id, other} {
		newClientKey(t, k)
	}
	pub, _ := os.ReadFile(id + ".pub")
	os.WriteFile(filepath.Join(keyDir, "authorized_keys"), append([]byte("# ops\n\n"), pub...), 0o600)

	d := l.StartDaemon()
	if fi, err := os.Stat(filepath.Join(keyDir, "host", "ssh_host_ed25519_key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key not generated 0600: %v %v", fi, err)
	}
	if !strings.Contains(d.Out.String(), "generated SSH host key") {
		t.Errorf("no log line for the generated host key")
	}
	lg := l.StartLoadgen("-n", strconv.Itoa(n), "--hold", "-1s")
	l.WaitFor("3 active sessions", 30*time.Second, func() bool { return activeCount(l.Sessions()) == n })

	out, code := l.sshExec(t, id, "show stat")
	if code != 0 {
		t.Fatalf("ssh show stat: exit %d\n%s", code, out)
	}
	for _, re := range []string{`(?m)^sessions: +3$`, `(?m)^  active: +3$`, `(?m)^auth-ok: +3$`, `(?m)^auth-fail: +0$`, `(?m)^uptime: `, `(?m)^rss: +[0-9.]+ [KMG]iB$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("ssh show stat lacks %s:\n%s", re, out)
		}
	}
	// The fallback client too, so it stays working where ssh is installed.
	if out, code := goSSHExec(t, l, id, "show stat"); code != 0 || !regexp.MustCompile(`(?m)^  active: +3$`).MatchString(out) {
		t.Errorf("x/crypto/ssh show stat: exit %d\n%s", code, out)
	}
	if out, code := l.sshExec(t, id, "terminate nosuchuser"); code != 1 || !strings.Contains(out, "error:") {
		t.Errorf("ssh terminate nosuchuser: exit %d, want 1\n%s", code, out)
	}
	if _, err := exec.LookPath("ssh"); err == nil {
		if _, err := exec.LookPath("expect"); err == nil {
			host, _ := os.Hostname()
			script := filepath.Join(l.Dir, "ssh.exp")
			os.WriteFile(script, []byte(sshShellScript), 0o600)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, "expect", "-f", script, id, host, l.BNG).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "EXPECT-OK") {
				t.Errorf("interactive ssh shell: %v\n%s", err, tail(string(out), 3000))
			}
		}
	}
	if out, code := l.sshExec(t, other, "show stat"); code == 0 {
		t.Errorf("a key not in authorized_keys logged in:\n%s", out)
	}
	lg.Stop(10 * time.Second)
}

// newClientKey writes an OpenSSH ed25519 key pair (path, path.pub) as
// ssh-keygen would, without needing it installed.
func newClientKey(t *testing.T, path string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "ops")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(sp), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sshExec runs one command over SSH inside the bng namespace: with the
// OpenSSH client when installed, else with golang.org/x/crypto/ssh dialing
// from a thread inside the namespace. It returns stdout+stderr and the
// remote exit status (255 when the login failed, as ssh does).
func (l *Lab) sshExec(t *testing.T, key, command string) (string, int) {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err == nil {
		return run(t, "ip", "netns", "exec", l.BNG, "ssh", "-F", "/dev/null", "-i", key, "-p", "2022",
			"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "ops@127.0.0.1", command)
	}
	return goSSHExec(t, l, key, command)
}

// goSSHExec is the fallback client (golang.org/x/crypto/ssh).
func goSSHExec(t *testing.T, l *Lab, key, command string) (string, int) {
	t.Helper()
	b, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := dialInNS(l.BNG, "127.0.0.1:2022")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ClientConfig{User: "ops", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}
	c, chans, reqs, err := ssh.NewClientConn(conn, "127.0.0.1:2022", cfg)
	if err != nil {
		conn.Close()
		return err.Error(), 255
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	s, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	// Separate buffers: two io.Copy into one bytes.Buffer race (ReadFrom
	// truncates to the length it started with).
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr = &stdout, &stderr
	err = s.Run(command)
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return stdout.String() + stderr.String(), ee.ExitStatus()
	}
	if err != nil {
		t.Fatalf("ssh run %q: %v", command, err)
	}
	return stdout.String() + stderr.String(), 0
}

// dialInNS dials TCP from inside the named network namespace: a throwaway
// goroutine locks its thread, enters the namespace and never leaves it, so
// the runtime discards the thread when the goroutine exits.
func dialInNS(ns, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/var/run/netns", ns))
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// run runs a command and returns its combined output and exit code.
func run(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(out), 0
}

func activeCount(ss []map[string]any) int {
	n := 0
	for _, s := range ss {
		if s["state"] == "active" {
			n++
		}
	}
	return n
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
