package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"github.com/bngbox/bngbox/pkg/mgmt"
)

// SSHOptions configure ServeSSH.
type SSHOptions struct {
	// Hostname is shown in the prompt; default os.Hostname.
	Hostname string
	// HostKey is the server's private key (required).
	HostKey ssh.Signer
	// AuthorizedKeys are the only public keys that may log in (see
	// ParseAuthorizedKeys). Passwords are never accepted over SSH.
	AuthorizedKeys []ssh.PublicKey
	// IdleTimeout closes a connection without input for this long;
	// default 10 minutes, negative for none.
	IdleTimeout time.Duration
	// Log receives connection events and the command audit; nil discards.
	Log *slog.Logger
}

// ParseAuthorizedKeys parses the contents of an authorized_keys file;
// blank lines and comments are skipped, options are ignored.
func ParseAuthorizedKeys(b []byte) ([]ssh.PublicKey, error) {
	var keys []ssh.PublicKey
	for line := 1; len(bytes.TrimSpace(b)) > 0; line++ {
		var first []byte
		first, b, _ = bytes.Cut(b, []byte("\n"))
		first = bytes.TrimSpace(first)
		if len(first) == 0 || first[0] == '#' {
			continue
		}
		k, _, _, _, err := ssh.ParseAuthorizedKey(first)
		if err != nil {
			return nil, fmt.Errorf("cli: authorized keys line %d: %w", line, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

const sshHandshakeTimeout = 30 * time.Second

// ServeSSH runs the shell over SSH on every connection accepted from ln
// until ctx is done, then closes ln and all connections and returns nil.
// A "shell" request (with a pty) gets the interactive shell; an "exec"
// request ("ssh bng show sessions") runs one command and returns its exit
// status (0, 1, or 2 for a usage error).
func ServeSSH(ctx context.Context, ln net.Listener, api mgmt.API, opts SSHOptions) error {
	if opts.HostKey == nil {
		return errors.New("cli: ssh: no host key")
	}
	topts := TelnetOptions{Hostname: opts.Hostname, IdleTimeout: opts.IdleTimeout, Log: opts.Log}
	topts.setDefaults()
	allowed := make(map[string]bool, len(opts.AuthorizedKeys))
	for _, k := range opts.AuthorizedKeys {
		allowed[string(k.Marshal())] = true
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(md ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if allowed[string(key.Marshal())] {
				return &ssh.Permissions{Extensions: map[string]string{"fp": ssh.FingerprintSHA256(key)}}, nil
			}
			return nil, errors.New("cli: ssh: key not authorized")
		},
	}
	cfg.AddHostKey(opts.HostKey)
	s := &sshServer{api: api, cfg: cfg, hostname: topts.Hostname, idle: topts.IdleTimeout, log: topts.Log}

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		conns = nil
		mu.Unlock()
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
			return fmt.Errorf("cli: ssh accept: %w", err)
		}
		mu.Lock()
		if conns == nil {
			mu.Unlock()
			c.Close()
			continue
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
			s.serve(ctx, c)
		}()
	}
}

type sshServer struct {
	api      mgmt.API
	cfg      *ssh.ServerConfig
	hostname string
	idle     time.Duration
	log      *slog.Logger
}

func (s *sshServer) serve(ctx context.Context, c net.Conn) {
	log := s.log.With("remote", c.RemoteAddr().String())
	c.SetDeadline(time.Now().Add(sshHandshakeTimeout))
	sc, chans, reqs, err := ssh.NewServerConn(c, s.cfg)
	if err != nil {
		log.Warn("cli ssh login failed", slog.Any("err", err))
		return
	}
	defer sc.Close()
	c.SetDeadline(time.Time{})
	if s.idle > 0 {
		// Idle means no user input: the deadline is re-armed only when
		// the shell reads (rwIdle), not by SSH keepalives. When it fires
		// the transport's read fails and the connection ends.
		c.SetReadDeadline(time.Now().Add(s.idle))
	}
	log = log.With("user", sc.User(), "key", sc.Permissions.Extensions["fp"])
	log.Info("cli ssh login")
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go s.session(ctx, c, ch, creqs, log)
	}
}

// An sshSession is one session channel: pty-req, window-change, then one
// shell or exec. Its fields belong to the goroutine running serve.
type sshSession struct {
	s       *sshServer
	ctx     context.Context
	c       net.Conn
	ch      ssh.Channel
	log     *slog.Logger
	t       *term.Terminal // set by shell
	w, h    int
	started bool
	done    chan uint32 // exit status of the shell or exec
}

// session serves one session channel until its command ends or the client
// closes it.
func (s *sshServer) session(ctx context.Context, c net.Conn, ch ssh.Channel, reqs <-chan *ssh.Request, log *slog.Logger) {
	defer ch.Close()
	ss := &sshSession{s: s, ctx: ctx, c: c, ch: ch, log: log, done: make(chan uint32, 1)}
	for {
		select {
		case code := <-ss.done:
			ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, code))
			return
		case req, ok := <-reqs:
			if !ok {
				return
			}
			req.Reply(ss.handle(req), nil) // a no-op unless WantReply
		}
	}
}

// handle serves one channel request and reports success.
func (ss *sshSession) handle(req *ssh.Request) bool {
	switch req.Type {
	case "pty-req":
		ss.w, ss.h = parsePtyReq(req.Payload)
		return !ss.started
	case "window-change":
		if len(req.Payload) >= 8 {
			ss.w, ss.h = int(binary.BigEndian.Uint32(req.Payload)), int(binary.BigEndian.Uint32(req.Payload[4:]))
			if ss.t != nil && ss.w > 0 && ss.h > 0 {
				ss.t.SetSize(ss.w, ss.h)
			}
		}
		return true
	case "shell":
		if ss.started {
			return false
		}
		ss.started = true
		ss.shell()
		return true
	case "exec":
		// RFC 4254 §6.5: string command
		p := req.Payload
		if ss.started || len(p) < 4 || uint64(len(p)) != 4+uint64(binary.BigEndian.Uint32(p)) {
			return false
		}
		ss.started = true
		go ss.exec(string(p[4:]))
		return true
	case "env":
		return true // accepted and ignored
	}
	return false
}

// shell starts the interactive shell on the channel.
func (ss *sshSession) shell() {
	t := term.NewTerminal(rwIdle{ss.ch, ss.c, ss.s.idle}, ss.s.hostname+"> ")
	if ss.w > 0 && ss.h > 0 {
		t.SetSize(ss.w, ss.h)
	}
	ss.t = t
	sh := &shell{ctx: ss.ctx, api: ss.s.api, t: t, env: defaultEnv, log: ss.log}
	t.AutoCompleteCallback = sh.autoComplete
	go func() {
		sh.loop()
		ss.done <- 0
	}()
}

// exec runs one command: output on stdout, the error on stderr.
func (ss *sshSession) exec(cmd string) {
	var out bytes.Buffer
	words := strings.Fields(cmd)
	_, err := defaultEnv.exec(ss.ctx, ss.s.api, words, &out)
	logCommand(ss.log, words, err)
	if err != nil {
		ss.ch.Stderr().Write([]byte(FormatError(err)))
	}
	ss.ch.Write(out.Bytes())
	ss.done <- uint32(ExitCode(err))
}

// rwIdle is a channel whose reads re-arm the connection's idle deadline.
type rwIdle struct {
	ssh.Channel
	c    net.Conn
	idle time.Duration
}

func (r rwIdle) Read(b []byte) (int, error) {
	if r.idle > 0 {
		r.c.SetReadDeadline(time.Now().Add(r.idle))
	}
	return r.Channel.Read(b)
}

// parsePtyReq extracts the window size from a pty-req payload (RFC 4254
// §6.2: string TERM, uint32 cols, uint32 rows, ...).
func parsePtyReq(p []byte) (w, h int) {
	if len(p) < 4 {
		return 0, 0
	}
	n := binary.BigEndian.Uint32(p)
	if uint64(len(p)) < 4+uint64(n)+8 {
		return 0, 0
	}
	p = p[4+n:]
	return int(binary.BigEndian.Uint32(p)), int(binary.BigEndian.Uint32(p[4:]))
}
