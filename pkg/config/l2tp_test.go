package config

import (
	"strings"
	"testing"
	"time"
)

const l2tpBase = "pppoe:\n  interfaces: [{name: eth0}]\npools: [{name: a, range: 10.0.0.0/24}]\nauth: {users-file: u}\n"

func TestL2TPParse(t *testing.T) {
	c, err := Parse("x.yaml", []byte(l2tpBase+`l2tp:
  enabled: true
  listen: 127.0.0.1:1701
  hostname: lns1
  require-auth: true
  hello-interval: 20s
  proxy-auth: renegotiate
  secrets:
    - {peer: 192.0.2.10, secret: s1}
    - {peer: lac.example, secret: s2}
`))
	if err != nil {
		t.Fatal(err)
	}
	l := c.L2TP
	if !l.Enabled || l.ListenAddr() != "127.0.0.1:1701" || l.HostName != "lns1" || l.Hello() != 20*time.Second {
		t.Errorf("decoded wrongly: %+v", l)
	}
	for _, tc := range []struct{ addr, host, want string }{
		{"192.0.2.10", "x", "s1"}, {"192.0.2.11", "lac.example", "s2"}, {"192.0.2.11", "other", ""},
	} {
		if got, _ := l.SecretFor(tc.addr, tc.host); got != tc.want {
			t.Errorf("SecretFor(%s, %s) = %q, want %q", tc.addr, tc.host, got, tc.want)
		}
	}
}

func TestL2TPDefaults(t *testing.T) {
	c, err := Parse("x.yaml", []byte(l2tpBase))
	if err != nil {
		t.Fatal(err)
	}
	if c.L2TP.Enabled || c.L2TP.ListenAddr() != ":1701" || c.L2TP.Hello() != 60*time.Second || c.L2TP.AcceptProxy() {
		t.Errorf("defaults: %+v", c.L2TP)
	}
}

func TestL2TPValidate(t *testing.T) {
	_, err := Parse("x.yaml", []byte(l2tpBase+`l2tp:
  enabled: true
  require-auth: true
  hello-interval: 1ms
  proxy-auth: trust
  secrets: [{peer: a, secret: ""}, {peer: a, secret: b}]
`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"l2tp.hello-interval", "l2tp.proxy-auth", "l2tp.secrets.0.secret", "l2tp.secrets.1.peer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestL2TPProxyAuthAccept(t *testing.T) {
	c, err := Parse("x.yaml", []byte(l2tpBase+"l2tp:\n  enabled: true\n  proxy-auth: accept\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.L2TP.AcceptProxy() {
		t.Errorf("proxy-auth: accept decoded as %q", c.L2TP.ProxyAuth)
	}
}
