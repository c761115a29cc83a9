package radtest

import (
	"regexp"
	"strings"
	"testing"
)

func TestRenderFillsEveryToken(t *testing.T) {
	got := Render(Config{Dir: "/tmp/fr", Secret: "s3", AuthPort: 1812, AcctPort: 1813, LogAuth: true})
	if tok := regexp.MustCompile(`@[A-Z_]+@`).FindString(got); tok != "" {
		t.Errorf("token %s is left:\n%s", tok, got)
	}
	for _, want := range []string{"confdir = /tmp/fr\n", "secret = s3\n", "port = 1812\n", "port = 1813\n", "auth = yes\n", "filename = /tmp/fr/users\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered config lacks %q", want)
		}
	}
}
