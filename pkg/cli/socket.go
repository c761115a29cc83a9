package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bngbox/bngbox/pkg/mgmt"
)

// Socket protocol (one request per connection):
//
//	request:  the command words, either as a JSON array of strings
//	          (["show","sessions","json"]) or separated by NUL bytes
//	          ("show\x00sessions\x00json"), ended by "\n" or by closing
//	          the write side.
//	response: a status line "exit <code>\n" (0 ok, 1 error, 2 usage
//	          error), then the rendered output (or the error text) until
//	          the server closes the connection.
//
// With socat:  printf 'show\0stat\n' | socat - UNIX-CONNECT:/run/bngbox/cli.sock
const (
	maxRequest     = 64 << 10
	requestTimeout = 30 * time.Second
)

// A SocketServer serves the one-shot CLI on a unix socket.
type SocketServer struct {
	ln   net.Listener
	api  mgmt.API
	log  *slog.Logger
	path string
	wg   sync.WaitGroup
	done chan struct{}
	once sync.Once
}

// ListenSocket listens on the unix socket at path (replacing a stale
// socket, never a regular file), restricts it to mode 0600 so that only its
// owner (root) may connect, and serves requests until Close.
func ListenSocket(path string, api mgmt.API, log *slog.Logger) (*SocketServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("cli: %s exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("cli: %s is in use by another process", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("cli: remove stale socket: %w", err)
		}
	}
	ln, err := listenUnixPrivate(path)
	if err != nil {
		return nil, err
	}
	s := &SocketServer{ln: ln, api: api, log: log.With("socket", path), path: path, done: make(chan struct{})}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// listenUnixPrivate binds the socket inside a fresh 0700 directory, makes
// it 0600 and only then renames it to path, so there is no moment in which
// another user could connect (a chmod after bind leaves one, and umask is
// process-wide).
func listenUnixPrivate(path string) (*net.UnixListener, error) {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".cli-sock-")
	if err != nil {
		return nil, fmt.Errorf("cli: listen: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("cli: listen: %w", err)
	}
	ln.SetUnlinkOnClose(false) // Close removes path itself
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("cli: chmod socket: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		return nil, fmt.Errorf("cli: listen: %w", err)
	}
	return ln, nil
}

// Addr returns the socket path.
func (s *SocketServer) Addr() string { return s.path }

// Close stops accepting, waits for requests in progress and removes the
// socket file.
func (s *SocketServer) Close() error {
	err := errors.New("cli: socket server already closed")
	s.once.Do(func() { err = s.close() })
	return err
}

func (s *SocketServer) close() error {
	close(s.done)
	err := s.ln.Close()
	s.wg.Wait()
	if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

func (s *SocketServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if acceptRetry(context.Background(), err) {
				continue
			}
			s.log.Warn("cli socket accept", slog.Any("err", err))
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
		}()
	}
}

func (s *SocketServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(requestTimeout))
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	args, err := readRequest(c)
	var out bytes.Buffer
	if err == nil {
		_, err = defaultEnv.exec(ctx, s.api, args, &out)
		logCommand(s.log, args, err)
	}
	code := ExitCode(err)
	if err != nil {
		out.Reset() // partial output before an error would confuse scripts
		out.WriteString(FormatError(err))
	}
	if _, werr := fmt.Fprintf(c, "exit %d\n%s", code, out.Bytes()); werr != nil {
		s.log.Debug("cli socket write", slog.Any("err", werr))
	}
}

// logCommand logs state-changing commands at Info (an audit trail) and
// the rest at Debug.
func logCommand(log *slog.Logger, args []string, err error) {
	lvl := slog.LevelDebug
	if audited(args) {
		lvl = slog.LevelInfo
	}
	attrs := []slog.Attr{slog.String("cmd", strings.Join(args, " "))}
	if err != nil {
		attrs = append(attrs, slog.Any("err", err))
	}
	log.LogAttrs(context.Background(), lvl, "cli command", attrs...)
}

// readRequest reads one request line (JSON array or NUL-separated words).
func readRequest(r io.Reader) ([]string, error) {
	br := bufio.NewReader(io.LimitReader(r, maxRequest+1))
	line, err := br.ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("cli: read request: %w", err)
	}
	if len(line) > maxRequest {
		return nil, &UsageError{Msg: "request too long"}
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	if len(line) > 0 && line[0] == '[' {
		var args []string
		if err := json.Unmarshal(line, &args); err != nil {
			return nil, &UsageError{Msg: "bad request: " + err.Error(), Hint: `send a JSON array of strings, e.g. ["show","stat"]`}
		}
		return args, nil
	}
	if len(line) == 0 {
		return nil, nil
	}
	return strings.Split(string(line), "\x00"), nil
}

// Call sends args to the daemon's CLI socket, copies the rendered output
// (or the error text) to stdout and returns the command's exit code: 0 ok,
// 1 error, 2 usage error. err is set only when the daemon could not be
// asked (socket missing, permission denied, malformed reply).
func Call(ctx context.Context, socketPath string, args []string, stdout io.Writer) (exitCode int, err error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socketPath)
	if err != nil {
		return 1, fmt.Errorf("cli: connect to daemon: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req, err := json.Marshal(nonNil(args))
	if err != nil {
		return 1, fmt.Errorf("cli: encode request: %w", err)
	}
	if _, err := c.Write(append(req, '\n')); err != nil {
		return 1, fmt.Errorf("cli: send request: %w", err)
	}
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	if err != nil {
		return 1, fmt.Errorf("cli: read reply: %w", err)
	}
	codeText, ok := strings.CutPrefix(strings.TrimSuffix(status, "\n"), "exit ")
	code, cerr := strconv.Atoi(codeText)
	if !ok || cerr != nil {
		return 1, fmt.Errorf("cli: malformed reply status %q", status)
	}
	if _, err := io.Copy(stdout, br); err != nil {
		return 1, fmt.Errorf("cli: read reply: %w", err)
	}
	return code, nil
}
