//go:build integration

package cli

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// expectScript drives the Debian telnet client (netkit) against the shell:
// wrong password, login, show sessions, TAB completion, "?" help, terminate
// by username, exit. Every expect has its own timeout branch that exits
// with a distinct message, so a failure says which step broke.
const expectScript = `
set timeout 10
set host [lindex $argv 0]
set port [lindex $argv 1]
proc fail {what} { puts "\nEXPECT-FAIL: $what"; exit 1 }
spawn telnet $host $port
expect timeout { fail "password prompt" } "Password: "
send "wrong\r"
expect timeout { fail "login incorrect" } "Login incorrect"
expect timeout { fail "second password prompt" } "Password: "
send "s3cret\r"
expect timeout { fail "prompt" } "bng1> "
send "show sessions\r"
expect timeout { fail "show sessions table" } -re {ppp10 +\| bob@isp +\| 100\.64\.0\.3}
expect timeout { fail "prompt after show sessions" } "bng1> "
send "sh\t"
expect timeout { fail "tab completion of sh" } "show "
send "tun\r"
expect timeout { fail "show tunnels" } -re {7 \| +19 \| 192\.0\.2\.9:1701}
expect timeout { fail "prompt after show tunnels" } "bng1> "
send "show ?"
expect timeout { fail "? help" } "sessions  list sessions as a table"
expect timeout { fail "line kept after ?" } "bng1> show "
send "\025"
send "terminate alice\r"
expect timeout { fail "terminate" } "terminated 1 session"
expect timeout { fail "prompt after terminate" } "bng1> "
send "frob\r"
expect timeout { fail "unknown command error" } "error: unknown command \"frob\""
expect timeout { fail "prompt after error" } "bng1> "
send "exit\r"
expect timeout { fail "close after exit" } eof
puts "\nEXPECT-OK"
`

func TestIntegrationTelnetClient(t *testing.T) {
	for _, bin := range []string{"telnet", "expect"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (apt-get install telnet expect)", bin)
		}
	}
	api := newFakeAPI()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeTelnet(ctx, ln, api, TelnetOptions{Hostname: "bng1", Password: "s3cret", LoginDelay: time.Millisecond})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeTelnet: %v", err)
		}
	}()

	script := filepath.Join(t.TempDir(), "telnet.exp")
	if err := os.WriteFile(script, []byte(expectScript), 0o644); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	ectx, ecancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer ecancel()
	cmd := exec.CommandContext(ectx, "expect", "-f", script, host, port)
	cmd.Env = append(os.Environ(), "TERM=xterm")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "EXPECT-OK") {
		t.Fatalf("expect: %v\n%s", err, out)
	}
	t.Logf("transcript:\n%s", out)
	if got := api.Calls(); !slices.Equal(got, []string{"terminate username=alice"}) {
		t.Errorf("api calls %q, want the terminate of alice", got)
	}
}
