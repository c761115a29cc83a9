package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// FuzzExec feeds arbitrary command lines to the parser and handlers: no
// panic, and every failure is a one-line error with at most a hint.
func FuzzExec(f *testing.F) {
	for _, s := range []string{"sh sess", "show sessions columns ifname,rx match user ^a( order up json",
		"terminate all hard", "shaper set x 1.5M/2G", "log level ?", "s", "sh sess m", "show session 10.0.0.1", "? ?", "sh?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		api := newFakeAPI()
		var out bytes.Buffer
		_, err := testEnv.exec(context.Background(), api, strings.Fields(line), &out)
		if err == nil {
			return
		}
		msg := FormatError(err)
		var ue *UsageError
		lines := strings.Count(msg, "\n")
		if errors.As(err, &ue) && ue.Hint != "" {
			lines--
		}
		if lines != 1 {
			t.Errorf("%q: error is not one line:\n%s", line, msg)
		}
		_ = completions(context.Background(), api, strings.Fields(line), "")
	})
}

// FuzzTelnetDecode: no panic, never more data than input, and state kept
// across reads gives the same data as one read.
func FuzzTelnetDecode(f *testing.F) {
	f.Add([]byte("show\r\x00"))
	f.Add([]byte{telIAC, telSB, optNAWS, 0, 80, 0, 24, telIAC, telSE, telIAC, telIAC, telIAC, telDO, 5})
	f.Fuzz(func(t *testing.T, in []byte) {
		one := newTelnetConn(&recConn{}, 0)
		out := make([]byte, len(in))
		n := one.decode(in, out)
		if n > len(in) {
			t.Fatalf("decoded %d bytes from %d", n, len(in))
		}
		split := newTelnetConn(&recConn{}, 0)
		var got []byte
		b := make([]byte, 1)
		for _, c := range in {
			k := split.decode([]byte{c}, b)
			got = append(got, b[:k]...)
		}
		if !bytes.Equal(got, out[:n]) {
			t.Errorf("split decode %q != whole %q", got, out[:n])
		}
	})
}
