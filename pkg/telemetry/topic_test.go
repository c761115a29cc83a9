package telemetry

import (
	"strings"
	"testing"
)

func TestEscapeUser(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "alice", want: "alice"},
		{name: "realm", in: "alice@isp.example", want: "alice@isp.example"},
		{name: "empty", in: "", want: "%"},
		{name: "slash", in: "a/b", want: "a%2Fb"},
		{name: "plus", in: "a+b", want: "a%2Bb"},
		{name: "hash", in: "#", want: "%23"},
		{name: "percent", in: "100%", want: "100%25"},
		{name: "escaped-looking", in: "%2F", want: "%252F"},
		{name: "control", in: "a\x00b\n", want: "a%00b%0A"},
		{name: "del", in: "\x7f", want: "%7F"},
		{name: "utf8 kept", in: "jürgen", want: "jürgen"},
		{name: "invalid utf8", in: "a\xffb", want: "a%FFb"},
		{name: "dollar", in: "$SYS", want: "$SYS"},
		{name: "space", in: "a b", want: "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EscapeUser(tt.in)
			if got != tt.want {
				t.Fatalf("EscapeUser(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.ContainsAny(got, "/+#") {
				t.Fatalf("EscapeUser(%q) = %q contains a topic metacharacter", tt.in, got)
			}
		})
	}
}

func TestEscapeUserInjective(t *testing.T) {
	in := []string{"", "%", "%25", "a/b", "a%2Fb", "a%2fb", "+", "%2B", "\x00", "%00", "\xff", "%FF", "ÿ"}
	seen := map[string]string{}
	for _, u := range in {
		e := EscapeUser(u)
		if prev, ok := seen[e]; ok {
			t.Fatalf("EscapeUser(%q) = EscapeUser(%q) = %q", u, prev, e)
		}
		seen[e] = u
	}
}

func FuzzEscapeUser(f *testing.F) {
	for _, s := range []string{"", "alice", "a/b", "%", "\xff", "#+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		e := EscapeUser(u)
		if e == "" || strings.ContainsAny(e, "/+#\x00") {
			t.Fatalf("EscapeUser(%q) = %q", u, e)
		}
		if u != "" && unescape(e) != u {
			t.Fatalf("unescape(EscapeUser(%q)) = %q", u, unescape(e))
		}
	})
}

// unescape inverts EscapeUser for non-empty names (test helper).
func unescape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func unhex(c byte) byte {
	if c >= 'A' {
		return c - 'A' + 10
	}
	return c - '0'
}

func TestTopics(t *testing.T) {
	tp := newTopics("bngbox", "nas1")
	for _, c := range []struct{ got, want string }{
		{tp.state("alice"), "bngbox/nas1/session/alice/state"},
		{tp.event("a/b"), "bngbox/nas1/session/a%2Fb/event"},
		{tp.usage(""), "bngbox/nas1/session/%/usage"},
		{tp.subtree(), "bngbox/nas1/#"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error, "" = valid
	}{
		{name: "minimal", cfg: Config{NAS: "nas1"}},
		{name: "no nas", cfg: Config{}, want: "nas"},
		{name: "nas with slash", cfg: Config{NAS: "a/b"}, want: "nas"},
		{name: "wildcard prefix", cfg: Config{NAS: "n", Prefix: "a/+"}, want: "prefix"},
		{name: "sys prefix", cfg: Config{NAS: "n", Prefix: "$SYS"}, want: "prefix"},
		{name: "multi-level prefix", cfg: Config{NAS: "n", Prefix: "isp/bng"}},
		{name: "tls without key", cfg: Config{NAS: "n", TLSListen: ":8883"}, want: "certificate"},
		{name: "operator no password", cfg: Config{NAS: "n", Operators: []Account{{User: "noc"}}}, want: "empty password"},
		{name: "operator twice", cfg: Config{NAS: "n", Operators: []Account{{"noc", "x"}, {"noc", "y"}}}, want: "twice"},
		{name: "bridge no queue", cfg: Config{NAS: "n", Bridge: &BridgeConfig{Address: "h:1"}}, want: "queue path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
