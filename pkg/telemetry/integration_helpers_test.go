//go:build integration

package telemetry

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitFor bounds every wait on a real client in the integration tests.
const waitFor = 15 * time.Second

func needBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian packages mosquitto, mosquitto-clients)", name)
	}
	return p
}

func hostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// proc is a real client or broker process whose output lines we watch.
type proc struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	mu    sync.Mutex
	all   []string
	exit  chan error
}

// run starts name args; stdout and stderr lines are collected. The process
// is killed by PID at test cleanup.
func run(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	// mosquitto_sub writes through stdio: line-buffer it so that we see
	// each message when it arrives, not when the process exits.
	cmd := exec.Command(needBinary(t, "stdbuf"), append([]string{"-oL", "-eL", needBinary(t, name)}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, lines: make(chan string, 10000), exit: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			l := sc.Text()
			p.mu.Lock()
			p.all = append(p.all, l)
			p.mu.Unlock()
			p.lines <- l
		}
		close(p.lines)
		p.exit <- cmd.Wait()
	}()
	t.Cleanup(p.kill)
	return p
}

func (p *proc) kill() {
	// By PID; after Wait this is a harmless ErrProcessDone (the handle is
	// released, so no other process can be hit).
	_ = p.cmd.Process.Kill()
}

// next returns the next line that satisfies match, failing after waitFor.
func (p *proc) next(match func(string) bool, what string) string {
	p.t.Helper()
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("%s: process ended waiting for %s; output:\n%s", p.cmd.Path, what, p.output())
			}
			if match(l) {
				return l
			}
		case <-timer.C:
			p.t.Fatalf("%s: no %s within %v; output:\n%s", p.cmd.Path, what, waitFor, p.output())
		}
	}
}

// received reports whether a message line (not a debug line) starting
// with prefix was printed.
func (p *proc) received(prefix string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.all {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.all, "\n")
}

// wait waits (bounded) for the process to exit and returns its error.
func (p *proc) wait() error {
	p.t.Helper()
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-p.lines:
			if ok {
				continue
			}
			select {
			case err := <-p.exit:
				return err
			case <-timer.C:
			}
		case <-timer.C:
		}
		p.t.Fatalf("%s did not exit; output:\n%s", p.cmd.Path, p.output())
		return nil
	}
}

// sub starts mosquitto_sub in debug mode (-d) with -v; it waits for the
// SUBACK and returns the granted codes line.
func sub(t *testing.T, addr, user, pw string, v5 bool, topics ...string) (*proc, string) {
	t.Helper()
	h, port := hostPort(t, addr)
	args := []string{"-d", "-v", "-h", h, "-p", port, "-q", "1", "-i", "sub-" + user + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	if user != "" {
		args = append(args, "-u", user, "-P", pw)
	}
	if v5 {
		args = append(args, "-V", "mqttv5")
	}
	for _, tp := range topics {
		args = append(args, "-t", tp)
	}
	p := run(t, "mosquitto_sub", args...)
	ack := p.next(func(l string) bool {
		return strings.HasPrefix(l, "Subscribed (mid") || strings.Contains(l, "Connection error") || strings.Contains(l, "refused")
	}, "SUBACK")
	return p, ack
}

// message returns the next "topic payload" line under prefix.
func (p *proc) message(prefix string) (topic, payload string) {
	p.t.Helper()
	l := p.next(func(l string) bool { return strings.HasPrefix(l, prefix) }, "message under "+prefix)
	topic, payload, _ = strings.Cut(l, " ")
	return topic, payload
}

// pub runs mosquitto_pub to completion.
func pub(t *testing.T, addr, user, pw string, v5 bool, topic, msg string, extra ...string) (string, error) {
	t.Helper()
	h, port := hostPort(t, addr)
	args := []string{"-d", "-h", h, "-p", port, "-q", "1", "-t", topic, "-m", msg}
	if user != "" {
		args = append(args, "-u", user, "-P", pw)
	}
	if v5 {
		args = append(args, "-V", "mqttv5")
	}
	args = append(args, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	out, err := exec.CommandContext(ctx, needBinary(t, "mosquitto_pub"), args...).CombinedOutput()
	return string(out), err
}

// freePort returns a loopback port that was free a moment ago (for
// mosquitto, which cannot report a port 0 choice).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
