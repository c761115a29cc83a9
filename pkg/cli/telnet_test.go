package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/term"
)

// recConn records what the telnet layer writes.
type recConn struct {
	net.Conn
	mu  sync.Mutex
	out bytes.Buffer
}

func (c *recConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(b)
}

func TestTelnetDecode(t *testing.T) {
	tests := []struct {
		name      string
		in        []byte
		wantData  string
		wantReply []byte
		wantSize  []int
	}{
		{name: "plain", in: []byte("show\r\x00"), wantData: "show\r"},
		{name: "crlf", in: []byte("a\r\nb"), wantData: "a\rb"},
		{name: "escaped ff", in: []byte{'a', telIAC, telIAC, 'b'}, wantData: "a\xffb"},
		{name: "our options acknowledged", in: []byte{telIAC, telDO, optEcho, telIAC, telDO, optSGA, telIAC, telWILL, optNAWS, 'x'}, wantData: "x"},
		{name: "unknown refused once", in: []byte{telIAC, telWILL, 24, telIAC, telWILL, 24, telIAC, telDO, 5},
			wantReply: []byte{telIAC, telDONT, 24, telIAC, telWONT, 5}},
		{name: "naws", in: []byte{'a', telIAC, telSB, optNAWS, 0, 120, 0, 40, telIAC, telSE, 'b'}, wantData: "ab", wantSize: []int{120, 40}},
		{name: "naws with escaped 255", in: []byte{telIAC, telSB, optNAWS, 1, telIAC, telIAC, 0, 50, telIAC, telSE}, wantSize: []int{511, 50}},
		{name: "other commands dropped", in: []byte{'a', telIAC, 241, 'b', telIAC, telSB, 24, 0, 'x', 'y', telIAC, telSE, 'c'}, wantData: "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &recConn{}
			tc := newTelnetConn(rc, 0)
			var size []int
			tc.onSize = func(w, h int) { size = []int{w, h} }
			// Feed byte by byte too: the decoder must keep state across reads.
			for _, split := range []bool{false, true} {
				rc.out.Reset()
				tc.refused = map[[2]byte]bool{}
				size = nil
				out := make([]byte, len(tt.in))
				var data []byte
				if split {
					for _, b := range tt.in {
						n := tc.decode([]byte{b}, out)
						data = append(data, out[:n]...)
					}
				} else {
					data = out[:tc.decode(tt.in, out)]
				}
				if string(data) != tt.wantData {
					t.Errorf("split=%v data %q, want %q", split, data, tt.wantData)
				}
				if !bytes.Equal(rc.out.Bytes(), tt.wantReply) {
					t.Errorf("split=%v replies %v, want %v", split, rc.out.Bytes(), tt.wantReply)
				}
				if !slices.Equal(size, tt.wantSize) {
					t.Errorf("split=%v size %v, want %v", split, size, tt.wantSize)
				}
			}
		})
	}
}

func TestTelnetWriteEscapesIAC(t *testing.T) {
	rc := &recConn{}
	tc := newTelnetConn(rc, 0)
	if n, err := tc.Write([]byte{'a', 0xff, 'b'}); n != 3 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got := rc.out.Bytes(); !bytes.Equal(got, []byte{'a', 0xff, 0xff, 'b'}) {
		t.Errorf("wrote %v", got)
	}
}

// telnetClient is a minimal raw telnet client for tests.
type telnetClient struct {
	t    *testing.T
	c    net.Conn
	buf  []byte // server data with IAC sequences removed
	cmds []byte // IAC commands received, raw
}

func dialTelnet(t *testing.T, addr string) *telnetClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// Safety net so a broken server fails the test instead of hanging it.
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &telnetClient{t: t, c: c}
}

func (tc *telnetClient) send(s string) {
	tc.t.Helper()
	if _, err := io.WriteString(tc.c, s); err != nil {
		tc.t.Fatal(err)
	}
}

// readMore reads one chunk, splitting telnet commands from data.
func (tc *telnetClient) readMore() error {
	b := make([]byte, 4096)
	n, err := tc.c.Read(b)
	b = b[:n]
	for i := 0; i < len(b); i++ {
		if b[i] == telIAC && i+2 < len(b) && b[i+1] >= telWILL {
			tc.cmds = append(tc.cmds, b[i:i+3]...)
			i += 2
			continue
		}
		tc.buf = append(tc.buf, b[i])
	}
	return err
}

// expect reads until the data contains s and returns everything up to and
// including it, consuming it.
func (tc *telnetClient) expect(s string) string {
	tc.t.Helper()
	for {
		if i := bytes.Index(tc.buf, []byte(s)); i >= 0 {
			out := string(tc.buf[:i+len(s)])
			tc.buf = tc.buf[i+len(s):]
			return out
		}
		if err := tc.readMore(); err != nil {
			tc.t.Fatalf("waiting for %q: %v; got so far %q", s, err, tc.buf)
		}
	}
}

// expectEOF reads until the server closes and returns the rest.
func (tc *telnetClient) expectEOF() string {
	tc.t.Helper()
	for {
		err := tc.readMore()
		if errors.Is(err, io.EOF) {
			return string(tc.buf)
		}
		if err != nil {
			tc.t.Fatalf("waiting for close: %v; got %q", err, tc.buf)
		}
	}
}

func startTelnet(t *testing.T, opts TelnetOptions) (*fakeAPI, string) {
	t.Helper()
	api := newFakeAPI()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeTelnet(ctx, ln, api, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeTelnet: %v", err)
		}
	})
	return api, ln.Addr().String()
}

func TestTelnetShell(t *testing.T) {
	api, addr := startTelnet(t, TelnetOptions{Hostname: "bng1", Password: "s3cret", LoginDelay: -1})
	c := dialTelnet(t, addr)

	c.expect("Password: ")
	want := []byte{telIAC, telWILL, optEcho, telIAC, telWILL, optSGA, telIAC, telDO, optSGA, telIAC, telDO, optNAWS}
	if !bytes.HasPrefix(c.cmds, want) {
		t.Errorf("negotiation %v, want prefix %v", c.cmds, want)
	}
	// What a real client answers, then the window size, then the password
	// with telnet's CR NUL.
	c.send(string([]byte{telIAC, telDO, optEcho, telIAC, telDO, optSGA, telIAC, telWILL, optNAWS,
		telIAC, telSB, optNAWS, 0, 200, 0, 50, telIAC, telSE}))
	c.send("s3cret\r\x00")
	c.expect("bng1> ")

	c.send("show sessions\r\x00")
	out := c.expect("bng1> ")
	for _, s := range []string{" ifname | username |", " ppp10  | bob@isp  | 100.64.0.3 |", "\r\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("show sessions output lacks %q:\n%s", s, out)
		}
	}

	// TAB completes "sh" to "show " (echoed), then the line runs.
	c.send("sh\t")
	c.expect("show ")
	c.send("pools\r")
	out = c.expect("bng1> ")
	if !strings.Contains(out, " cgnat | 100.64.0.0/22 ") {
		t.Errorf("show pools after completion:\n%s", out)
	}

	// TAB completes a username from the live sessions.
	c.send("terminate bo\t")
	c.expect("bob@isp ")
	c.send("\x15") // ^U: clear the line

	// "?" lists what may come next and keeps the line.
	c.send("show ?")
	out = c.expect("bng1> show ")
	if !strings.Contains(out, "sessions  list sessions as a table") {
		t.Errorf("? help:\n%q", out)
	}
	c.send("\x15")

	c.send("terminate alice\r")
	out = c.expect("bng1> ")
	if !strings.Contains(out, "terminated 1 session") {
		t.Errorf("terminate:\n%s", out)
	}
	if got := api.Calls(); !slices.Equal(got, []string{"terminate username=alice"}) {
		t.Errorf("api calls %q", got)
	}

	c.send("sh sess order\r")
	out = c.expect("bng1> ")
	if !strings.Contains(out, "error: order needs <field>\r\nhint: usage: show sessions") {
		t.Errorf("usage error:\n%q", out)
	}

	c.send("exit\r")
	c.expectEOF()
}

func TestTelnetNoPassword(t *testing.T) {
	_, addr := startTelnet(t, TelnetOptions{Hostname: "open"})
	c := dialTelnet(t, addr)
	c.expect("open> ")
	c.send("version\r\n")
	if out := c.expect("open> "); !strings.Contains(out, "bngbox v0.1.0") {
		t.Errorf("version: %q", out)
	}
	c.send("\x04") // ^D on an empty line ends the session
	c.expectEOF()
}

func TestTelnetLoginRateLimit(t *testing.T) {
	_, addr := startTelnet(t, TelnetOptions{Hostname: "bng1", Password: "s3cret", LoginDelay: time.Millisecond, MaxFailures: 4})

	// Three wrong passwords end one connection.
	c := dialTelnet(t, addr)
	for range 3 {
		c.expect("Password: ")
		c.send("guess\r\x00")
	}
	if out := c.expectEOF(); strings.Count(out, "Login incorrect") != 1 || strings.Contains(out, "bng1> ") {
		t.Errorf("first connection: %q", out)
	}

	// The fourth failure from the same address locks it out.
	c = dialTelnet(t, addr)
	c.expect("Password: ")
	c.send("guess\r\x00")
	if out := c.expectEOF(); !strings.Contains(out, "too many failed logins") {
		t.Errorf("fourth failure: %q", out)
	}

	// Locked out: refused before any password prompt.
	c = dialTelnet(t, addr)
	if out := c.expectEOF(); out != "too many failed logins; try again later\r\n" {
		t.Errorf("locked out: %q", out)
	}
}

func TestLoginLockoutExpires(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := TelnetOptions{MaxFailures: 2, Lockout: time.Minute}
	opts.setDefaults()
	s := &telnetServer{opts: opts, now: func() time.Time { return now }, failures: map[string]*loginFailures{}}
	if s.loginFailed("192.0.2.1") || s.lockedOut("192.0.2.1") {
		t.Fatal("locked after one failure")
	}
	if !s.loginFailed("192.0.2.1") || !s.lockedOut("192.0.2.1") {
		t.Fatal("not locked after two failures")
	}
	if s.lockedOut("192.0.2.2") {
		t.Fatal("another address is locked")
	}
	now = now.Add(61 * time.Second)
	if s.lockedOut("192.0.2.1") {
		t.Fatal("still locked after the lockout")
	}
	// The table is bounded: expired entries go when it fills up.
	for i := range maxTrackedSources {
		s.failures["old"+strconv.Itoa(i)] = &loginFailures{count: 1, last: now.Add(-2 * time.Minute)}
	}
	s.loginFailed("192.0.2.9")
	if len(s.failures) > 2 {
		t.Errorf("%d failure entries after pruning", len(s.failures))
	}

	s.loginFailed("192.0.2.1")
	s.loginOK("192.0.2.1")
	if s.loginFailed("192.0.2.1") {
		t.Fatal("success did not reset the counter")
	}
}

func TestTelnetIdleTimeout(t *testing.T) {
	_, addr := startTelnet(t, TelnetOptions{Hostname: "bng1", IdleTimeout: 20 * time.Millisecond})
	c := dialTelnet(t, addr)
	c.expect("bng1> ")
	if out := c.expectEOF(); !strings.Contains(out, "idle timeout") {
		t.Errorf("idle: %q", out)
	}
}

func TestTelnetShutdown(t *testing.T) {
	api := newFakeAPI()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeTelnet(ctx, ln, api, TelnetOptions{Hostname: "x"}) }()
	c := dialTelnet(t, ln.Addr().String())
	c.expect("x> ")
	cancel()
	c.expectEOF() // open shells are closed
	if err := <-done; err != nil {
		t.Errorf("ServeTelnet after cancel: %v", err)
	}
}

// bufRW is a terminal's far end in memory.
type bufRW struct {
	bytes.Buffer
}

func (b *bufRW) Read([]byte) (int, error) { return 0, io.EOF }

func TestShellAutoComplete(t *testing.T) {
	api := newFakeAPI()
	for i := range 300 {
		api.sessions = append(api.sessions, api.sessions[2])
		api.sessions[len(api.sessions)-1].Ifname = "ppp" + strconv.Itoa(100+i)
	}
	var out bufRW
	sh := &shell{ctx: context.Background(), api: api, t: term.NewTerminal(&out, "> "), env: testEnv}
	tests := []struct {
		line     string
		pos      int
		key      rune
		wantLine string
		wantPos  int
		wantOK   bool
		wantOut  string // written above the prompt
	}{
		{line: "sh", pos: 2, key: '\t', wantLine: "show ", wantPos: 5, wantOK: true},
		{line: "sh x", pos: 2, key: '\t', wantLine: "show  x", wantPos: 5, wantOK: true}, // cursor mid-line
		{line: "show ses", pos: 8, key: '\t', wantLine: "show sessions ", wantPos: 14, wantOK: true},
		{line: "sh sess order rx", pos: 16, key: '\t', wantLine: "sh sess order rx-", wantPos: 17, wantOK: true},
		{line: "sh sess order rx-", pos: 17, key: '\t', wantLine: "sh sess order rx-", wantPos: 17, wantOK: true, wantOut: "rx-bytes  rx-pkts"},
		{line: "terminate ", pos: 10, key: '\t', wantLine: "terminate ", wantPos: 10, wantOK: true, wantOut: "(307 candidates; type more letters)"},
		{line: "frob ", pos: 5, key: '\t'},
		{line: "show ", pos: 5, key: '?', wantLine: "show ", wantPos: 5, wantOK: true, wantOut: "pools     address pool usage"},
		{line: "sh", pos: 2, key: '?', wantLine: "sh", wantPos: 2, wantOK: true, wantOut: "shaper  change session rates live"},
		{line: "sh sess match user a.", pos: 21, key: '?'}, // part of a regex: typed as is
		{line: "x", pos: 1, key: 'y'},
	}
	for _, tt := range tests {
		out.Reset()
		line, pos, ok := sh.autoComplete(tt.line, tt.pos, tt.key)
		if ok != tt.wantOK || line != tt.wantLine || pos != tt.wantPos {
			t.Errorf("autoComplete(%q, %d, %q) = %q, %d, %v; want %q, %d, %v", tt.line, tt.pos, tt.key, line, pos, ok, tt.wantLine, tt.wantPos, tt.wantOK)
		}
		if !strings.Contains(out.String(), tt.wantOut) || (tt.wantOut == "" && out.Len() != 0) {
			t.Errorf("autoComplete(%q, %q) wrote %q, want %q", tt.line, tt.key, out.String(), tt.wantOut)
		}
	}
}
