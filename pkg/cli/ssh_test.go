package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startSSH(t *testing.T, authorized ...ssh.PublicKey) (*fakeAPI, string) {
	t.Helper()
	api := newFakeAPI()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeSSH(ctx, ln, api, SSHOptions{Hostname: "bng1", HostKey: newSigner(t), AuthorizedKeys: authorized})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeSSH: %v", err)
		}
	})
	return api, ln.Addr().String()
}

func dialSSH(addr string, key ssh.Signer) (*ssh.Client, error) {
	return ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User:            "ops",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // test: the host key is fresh
		Timeout:         20 * time.Second,
	})
}

func TestParseAuthorizedKeys(t *testing.T) {
	a, b := newSigner(t).PublicKey(), newSigner(t).PublicKey()
	file := "# ops\n\n" + string(ssh.MarshalAuthorizedKey(a)) + "no-pty " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(b))) + " bob@laptop\n"
	keys, err := ParseAuthorizedKeys([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !bytes.Equal(keys[0].Marshal(), a.Marshal()) || !bytes.Equal(keys[1].Marshal(), b.Marshal()) {
		t.Errorf("got %d keys", len(keys))
	}
	if _, err := ParseAuthorizedKeys([]byte("# x\nssh-ed25519 garbage\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad key: %v", err)
	}
}

func TestSSHExec(t *testing.T) {
	key := newSigner(t)
	api, addr := startSSH(t, key.PublicKey())

	// An unknown key is refused.
	if c, err := dialSSH(addr, newSigner(t)); err == nil {
		c.Close()
		t.Fatal("login with an unauthorized key succeeded")
	}

	c, err := dialSSH(addr, key)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	run := func(cmd string) (stdout, stderr string, code int) {
		t.Helper()
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var o, e bytes.Buffer
		s.Stdout, s.Stderr = &o, &e
		err = s.Run(cmd)
		var ee *ssh.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			code = ee.ExitStatus()
		default:
			t.Fatalf("%s: %v", cmd, err)
		}
		return o.String(), e.String(), code
	}
	if out, _, code := run("sh sess"); code != 0 || !strings.Contains(out, " ppp10  | bob@isp  |") {
		t.Errorf("show sessions: %d\n%s", code, out)
	}
	if _, errOut, code := run("bogus"); code != 2 || !strings.HasPrefix(errOut, `error: unknown command "bogus"`) {
		t.Errorf("bogus: %d %q", code, errOut)
	}
	if _, errOut, code := run("terminate nobody"); code != 1 || errOut != "error: no session matches\n" {
		t.Errorf("terminate nobody: %d %q", code, errOut)
	}
	if out, _, code := run("terminate bob@isp hard"); code != 0 || out != "terminated 1 session\n" {
		t.Errorf("terminate: %d %q", code, out)
	}
	if got := api.Calls(); !slices.Equal(got, []string{"terminate username=bob@isp hard"}) {
		t.Errorf("api calls %q", got)
	}
}

func TestSSHShell(t *testing.T) {
	key := newSigner(t)
	api, addr := startSSH(t, key.PublicKey())
	c, err := dialSSH(addr, key)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.RequestPty("xterm", 40, 200, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	outPipe, _ := s.StdoutPipe()
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	var got []byte
	expect := func(want string) string {
		t.Helper()
		buf := make([]byte, 4096)
		for !bytes.Contains(got, []byte(want)) {
			n, err := outPipe.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("waiting for %q: %v\n%q", want, err, got)
			}
		}
		i := bytes.Index(got, []byte(want)) + len(want)
		out := string(got[:i])
		got = got[i:]
		return out
	}
	expect("bng1> ")
	io.WriteString(in, "sh\t")
	expect("show ")
	io.WriteString(in, "stat\r")
	if out := expect("bng1> "); !strings.Contains(out, "auth-fail:       3") {
		t.Errorf("show stat:\n%s", out)
	}
	io.WriteString(in, "terminate carol\r")
	if out := expect("bng1> "); !strings.Contains(out, "terminated 1 session") {
		t.Errorf("terminate:\n%s", out)
	}
	io.WriteString(in, "exit\r")
	if err := s.Wait(); err != nil {
		t.Errorf("shell exit: %v", err)
	}
	if got := api.Calls(); !slices.Equal(got, []string{"terminate username=carol"}) {
		t.Errorf("api calls %q", got)
	}
}
