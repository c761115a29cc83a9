package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bngbox/bngbox/pkg/session"
)

func startSocket(t *testing.T) (*fakeAPI, string) {
	t.Helper()
	api := newFakeAPI()
	path := filepath.Join(t.TempDir(), "cli.sock")
	s, err := ListenSocket(path, api, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return api, path
}

func TestSocketRoundTrip(t *testing.T) {
	api, path := startSocket(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left next to the socket: %v", entries)
	}

	ctx := context.Background()
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string // substring
	}{
		{[]string{"show", "sessions"}, 0, " ppp10  | bob@isp  |"},
		{[]string{"sh", "sess", "match", "username", "^car"}, 0, "carol"},
		{[]string{"terminate", "carol"}, 0, "terminated 1 session\n"},
		{[]string{"terminate", "nobody"}, 1, "error: no session matches\n"},
		{[]string{"shaper", "set", "alice", "fast"}, 2, "hint: usage: shaper set"},
		{[]string{"bogus"}, 2, `error: unknown command "bogus"`},
		{nil, 2, "error: empty command"},
		{[]string{"show", "?"}, 0, "radius"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		code, err := Call(ctx, path, tt.args, &out)
		if err != nil {
			t.Fatalf("Call(%q): %v", tt.args, err)
		}
		if code != tt.wantCode || !strings.Contains(out.String(), tt.wantOut) {
			t.Errorf("Call(%q) = %d\n%s\nwant %d and %q", tt.args, code, out.String(), tt.wantCode, tt.wantOut)
		}
	}
	if got := api.Calls(); !slices.Equal(got, []string{"terminate username=carol"}) {
		t.Errorf("api calls %q", got)
	}

	// The JSON output parses and matches the sessions.
	var out bytes.Buffer
	if code, err := Call(ctx, path, []string{"show", "sessions", "json"}, &out); code != 0 || err != nil {
		t.Fatalf("show sessions json: %d %v", code, err)
	}
	var ss []session.Info
	if err := json.Unmarshal(out.Bytes(), &ss); err != nil || len(ss) != 3 {
		t.Errorf("json: %v, %d sessions\n%s", err, len(ss), out.String())
	}
}

// raw speaks the socket protocol by hand (as socat would).
func raw(t *testing.T, path, req string) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSocketProtocol(t *testing.T) {
	_, path := startSocket(t)
	if got := raw(t, path, "version\n"); got != "exit 0\nbngbox v0.1.0 (commit abc1234, go1.26.0, dataplane userspace)\n" {
		t.Errorf("plain: %q", got)
	}
	if got := raw(t, path, "log\x00level\x00debug\n"); got != "exit 0\nlog level debug\n" {
		t.Errorf("NUL-separated: %q", got)
	}
	if got := raw(t, path, `["log","level","loud"]`+"\n"); !strings.HasPrefix(got, "exit 2\nerror: unknown log level \"loud\"\nhint: ") {
		t.Errorf("JSON: %q", got)
	}
	if got := raw(t, path, `["unterminated`+"\n"); !strings.HasPrefix(got, "exit 2\nerror: bad request") {
		t.Errorf("bad JSON: %q", got)
	}
	// A request ended by half-closing instead of "\n".
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "show\x00pools")
	c.(*net.UnixConn).CloseWrite()
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "exit 0\n name  | range") {
		t.Errorf("half-close: %q", b)
	}
}

func TestSocketErrors(t *testing.T) {
	dir := t.TempDir()
	// No daemon: a transport error, exit code 1.
	code, err := Call(context.Background(), filepath.Join(dir, "missing.sock"), []string{"version"}, io.Discard)
	if err == nil || code != 1 {
		t.Errorf("missing socket: %d %v", code, err)
	}
	// A regular file is never replaced.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if _, err := ListenSocket(file, newFakeAPI(), nil); err == nil {
		t.Error("ListenSocket over a regular file succeeded")
	}
	// A live socket is not stolen; a stale one is replaced.
	_, path := startSocket(t)
	if _, err := ListenSocket(path, newFakeAPI(), nil); err == nil {
		t.Error("ListenSocket over a live socket succeeded")
	}
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	s, err := ListenSocket(stale, newFakeAPI(), nil)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("socket file left after Close: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSocketAuditLog(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	path := filepath.Join(t.TempDir(), "cli.sock")
	s, err := ListenSocket(path, newFakeAPI(), log)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"show", "stat"}, {"ter", "carol", "hard"}, {"terminate", "nobody"}} {
		if _, err := Call(context.Background(), path, args, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	s.Close() // waits for the handlers: the log is complete
	got := logs.String()
	for _, want := range []string{
		`level=DEBUG msg="cli command" socket=` + path + ` cmd="show stat"`,
		`level=INFO msg="cli command" socket=` + path + ` cmd="ter carol hard"`,
		`level=INFO msg="cli command" socket=` + path + ` cmd="terminate nobody" err="no session matches"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
}
