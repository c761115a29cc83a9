package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/bngbox/bngbox/pkg/mgmt"
)

// TelnetOptions configure ServeTelnet. Zero values pick the defaults.
type TelnetOptions struct {
	// Hostname is shown in the prompt "<hostname>> "; default os.Hostname.
	Hostname string
	// Password, if set, must be entered before the shell starts. It is
	// compared in constant time.
	Password string
	// IdleTimeout closes a connection without input for this long;
	// default 10 minutes, negative for none.
	IdleTimeout time.Duration
	// LoginDelay is slept after each failed password; default 2 s,
	// negative for none.
	LoginDelay time.Duration
	// MaxFailures failed passwords from one source address lock that
	// address out; default 5.
	MaxFailures int
	// Lockout is how long a locked-out address is refused, counted from
	// its last failure; default 5 minutes.
	Lockout time.Duration
	// Log receives connection and login events; nil discards.
	Log *slog.Logger
}

func (o *TelnetOptions) setDefaults() {
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.LoginDelay == 0 {
		o.LoginDelay = 2 * time.Second
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 5
	}
	if o.Lockout <= 0 {
		o.Lockout = 5 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// maxListed caps the completion candidates TAB lists (a BNG may have
// tens of thousands of sessions).
const maxListed = 200

// triesPerConnection is how many passwords one connection may try.
const triesPerConnection = 3

// ServeTelnet runs the interactive shell on every connection accepted from
// ln until ctx is done; then it closes ln and all connections, waits for
// them and returns nil. Any other accept error is returned.
func ServeTelnet(ctx context.Context, ln net.Listener, api mgmt.API, opts TelnetOptions) error {
	opts.setDefaults()
	s := &telnetServer{api: api, opts: opts, log: opts.Log, now: time.Now,
		failures: map[string]*loginFailures{}, conns: map[net.Conn]struct{}{}}
	var wg sync.WaitGroup
	defer wg.Wait() // runs last: after cancel has closed the connections
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	context.AfterFunc(ctx, func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.conns = nil
		s.mu.Unlock()
	})
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if acceptRetry(ctx, err) {
				continue
			}
			return fmt.Errorf("cli: telnet accept: %w", err)
		}
		s.mu.Lock()
		if s.conns == nil { // shutting down
			s.mu.Unlock()
			c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c) // no-op on a nil map
				s.mu.Unlock()
				c.Close()
			}()
			s.serve(ctx, c)
		}()
	}
}

// acceptRetry reports whether an Accept error is transient (out of file
// descriptors, an aborted connection, a timeout); it pauses briefly first.
func acceptRetry(ctx context.Context, err error) bool {
	var ne net.Error
	if !(errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || (errors.As(err, &ne) && ne.Timeout())) {
		return false
	}
	select {
	case <-ctx.Done():
	case <-time.After(50 * time.Millisecond):
	}
	return true
}

type telnetServer struct {
	api  mgmt.API
	opts TelnetOptions
	log  *slog.Logger
	now  func() time.Time

	mu       sync.Mutex
	failures map[string]*loginFailures // by source address; guarded by mu
	conns    map[net.Conn]struct{}     // guarded by mu
}

// loginFailures counts one source address's failed passwords.
type loginFailures struct {
	count int
	last  time.Time
}

func sourceAddr(c net.Conn) string {
	a := c.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(a); err == nil {
		return h
	}
	return a
}

// lockedOut reports whether src has failed too often recently.
func (s *telnetServer) lockedOut(src string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.failures[src]
	if f == nil {
		return false
	}
	if s.now().Sub(f.last) > s.opts.Lockout {
		delete(s.failures, src)
		return false
	}
	return f.count >= s.opts.MaxFailures
}

// loginFailed records a failure and reports whether src is now locked out.
func (s *telnetServer) loginFailed(src string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) >= maxTrackedSources {
		s.pruneLocked()
	}
	f := s.failures[src]
	if f == nil || s.now().Sub(f.last) > s.opts.Lockout {
		f = &loginFailures{}
		s.failures[src] = f
	}
	f.count++
	f.last = s.now()
	return f.count >= s.opts.MaxFailures
}

// maxTrackedSources bounds the failure table; past it, expired entries are
// dropped.
const maxTrackedSources = 4096

// pruneLocked drops expired failure entries; s.mu must be held.
func (s *telnetServer) pruneLocked() {
	for src, f := range s.failures {
		if s.now().Sub(f.last) > s.opts.Lockout {
			delete(s.failures, src)
		}
	}
}

func (s *telnetServer) loginOK(src string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.failures, src)
}

func (s *telnetServer) passwordOK(pw string) bool {
	a, b := sha256.Sum256([]byte(pw)), sha256.Sum256([]byte(s.opts.Password))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func (s *telnetServer) serve(ctx context.Context, c net.Conn) {
	src := sourceAddr(c)
	log := s.log.With("remote", c.RemoteAddr().String())
	if s.opts.Password != "" && s.lockedOut(src) {
		log.Warn("cli login refused: locked out")
		io.WriteString(c, "too many failed logins; try again later\r\n")
		return
	}
	tc := newTelnetConn(c, s.opts.IdleTimeout)
	if err := tc.negotiate(); err != nil {
		return
	}
	t := term.NewTerminal(tc, "")
	tc.onSize = func(w, h int) { t.SetSize(w, h) }
	if s.opts.Password != "" && !s.login(t, src, log) {
		return
	}
	log.Info("cli login")
	sh := &shell{ctx: ctx, api: s.api, t: t, env: defaultEnv, log: log}
	t.SetPrompt(s.opts.Hostname + "> ")
	t.AutoCompleteCallback = sh.autoComplete
	err := sh.loop()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		io.WriteString(tc, "\r\nidle timeout\r\n")
		log.Info("cli idle timeout")
		return
	}
	log.Info("cli logout")
}

// login asks for the password; it reports whether the shell may start.
func (s *telnetServer) login(t *term.Terminal, src string, log *slog.Logger) bool {
	for range triesPerConnection {
		pw, err := t.ReadPassword("Password: ")
		if err != nil {
			return false
		}
		if s.passwordOK(pw) {
			s.loginOK(src)
			return true
		}
		locked := s.loginFailed(src)
		log.Warn("cli login failed", "locked_out", locked)
		if s.opts.LoginDelay > 0 {
			time.Sleep(s.opts.LoginDelay)
		}
		if locked {
			t.Write([]byte("too many failed logins; try again later\n"))
			return false
		}
		t.Write([]byte("Login incorrect\n"))
	}
	return false
}

// A shell is one interactive session on a terminal.
type shell struct {
	ctx context.Context
	api mgmt.API
	t   *term.Terminal
	env *env
	log *slog.Logger
}

// loop reads and runs lines until exit, EOF (^D) or an error.
func (sh *shell) loop() error {
	for {
		line, err := sh.t.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		words := strings.Fields(line)
		if len(words) == 0 {
			continue
		}
		var out bytes.Buffer
		exit, err := sh.env.exec(sh.ctx, sh.api, words, &out)
		logCommand(sh.log, words, err)
		if err != nil {
			out.WriteString(FormatError(err))
		}
		if _, err := sh.t.Write(out.Bytes()); err != nil {
			return err
		}
		if exit {
			return nil
		}
	}
}

// autoComplete handles TAB (complete the word, or list candidates) and
// "?" at the start of a word (list what may come next, keep the line).
// It runs with the terminal unlocked, so it may write above the prompt.
func (sh *shell) autoComplete(line string, pos int, key rune) (string, int, bool) {
	switch key {
	case '\t':
		return sh.complete(line, pos)
	case '?':
		return sh.help(line, pos)
	}
	return "", 0, false
}

func (sh *shell) complete(line string, pos int) (string, int, bool) {
	head := line[:pos]
	words := strings.Fields(head)
	partial := ""
	if len(words) > 0 && !strings.HasSuffix(head, " ") {
		partial, words = words[len(words)-1], words[:len(words)-1]
	}
	cands := completions(sh.ctx, sh.api, words, partial)
	if len(cands) == 0 {
		return "", 0, false
	}
	base := head[:len(head)-len(partial)]
	if len(cands) == 1 {
		nh := base + cands[0] + " "
		return nh + line[pos:], len(nh), true
	}
	if cp := commonPrefix(cands); len(cp) > len(partial) {
		nh := base + cp
		return nh + line[pos:], len(nh), true
	}
	if len(cands) > maxListed {
		sh.t.Write(fmt.Appendf(nil, "(%d candidates; type more letters)\n", len(cands)))
	} else {
		sh.t.Write([]byte(strings.Join(cands, "  ") + "\n"))
	}
	return line, pos, true
}

func (sh *shell) help(line string, pos int) (string, int, bool) {
	head := line[:pos]
	args := strings.Fields(head)
	if len(args) == 0 || strings.HasSuffix(head, " ") {
		args = append(args, "?")
	} else {
		args[len(args)-1] += "?"
	}
	p, err := parse(commands, args)
	var out bytes.Buffer
	switch {
	case err != nil:
		out.WriteString(FormatError(err))
	case p.help != nil:
		renderText(&out, *p.help)
	default:
		return "", 0, false // "?" is part of a value (a regex): insert it
	}
	sh.t.Write(out.Bytes())
	return line, pos, true
}

func commonPrefix(ss []string) string {
	p := ss[0]
	for _, s := range ss[1:] {
		for !strings.HasPrefix(s, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}
