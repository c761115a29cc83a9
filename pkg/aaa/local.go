package aaa

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/subtle"
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/bngbox/bngbox/pkg/rate"
)

// LocalUser is one entry of the local users file.
type LocalUser struct {
	Name     string `yaml:"name"`
	Password string `yaml:"password"`
	IP       string `yaml:"ip"`    // optional fixed address
	Pool     string `yaml:"pool"`  // optional pool name
	Rates    string `yaml:"rates"` // optional down/up, e.g. 10M/5M
}

type localUser struct {
	password string
	reply    Reply
}

// Local authenticates against a users file. Reload swaps the table
// atomically; requests in flight finish against the table they started with.
type Local struct {
	path  string
	users atomic.Pointer[map[string]*localUser]
}

// NewLocal loads the users file.
func NewLocal(path string) (*Local, error) {
	l := &Local{path: path}
	if err := l.Reload(); err != nil {
		return nil, err
	}
	return l, nil
}

// Reload re-reads the users file; on error the old table stays.
func (l *Local) Reload() error {
	data, err := os.ReadFile(l.path)
	if err != nil {
		return err
	}
	m, err := ParseUsers(l.path, data)
	if err != nil {
		return err
	}
	l.users.Store(&m)
	return nil
}

// Len is the number of users loaded.
func (l *Local) Len() int { return len(*l.users.Load()) }

// ParseUsers decodes a users file strictly.
func ParseUsers(name string, data []byte) (map[string]*localUser, error) {
	var f struct {
		Users []LocalUser `yaml:"users"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && err.Error() != "EOF" {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	m := make(map[string]*localUser, len(f.Users))
	for i, u := range f.Users {
		where := fmt.Sprintf("%s: users[%d]", name, i)
		if u.Name == "" {
			return nil, fmt.Errorf("%s: name is empty", where)
		}
		if _, dup := m[u.Name]; dup {
			return nil, fmt.Errorf("%s: user %q listed twice", where, u.Name)
		}
		lu := &localUser{password: u.Password, reply: Reply{Pool: u.Pool}}
		if u.IP != "" {
			a, err := netip.ParseAddr(u.IP)
			if err != nil || !a.Is4() {
				return nil, fmt.Errorf("%s (%s): ip %q is not an IPv4 address", where, u.Name, u.IP)
			}
			lu.reply.FramedIP = a
		}
		if u.Rates != "" {
			r, err := rate.Parse(u.Rates)
			if err != nil {
				return nil, fmt.Errorf("%s (%s): rates: %v", where, u.Name, err)
			}
			lu.reply.Rates = r
		}
		m[u.Name] = lu
	}
	return m, nil
}

// Authenticate checks PAP or CHAP-MD5 credentials.
func (l *Local) Authenticate(_ context.Context, req *Request) (*Reply, error) {
	u := (*l.users.Load())[req.User]
	if u == nil {
		return nil, &Reject{Message: "authentication failed"}
	}
	ok := false
	switch req.Method {
	case PAP:
		ok = subtle.ConstantTimeCompare([]byte(req.Password), []byte(u.password)) == 1
	case CHAP:
		ok = CHAPVerify(req.ChapID, u.password, req.Challenge, req.Response)
	}
	if !ok {
		return nil, &Reject{Message: "authentication failed"}
	}
	r := u.reply
	return &r, nil
}

// CHAPVerify checks an RFC 1994 MD5 response: MD5(id || secret || challenge).
func CHAPVerify(id byte, secret string, challenge, response []byte) bool {
	want := CHAPResponse(id, secret, challenge)
	return subtle.ConstantTimeCompare(want[:], response) == 1
}

// CHAPResponse computes the RFC 1994 MD5 response.
func CHAPResponse(id byte, secret string, challenge []byte) [16]byte {
	h := md5.New()
	h.Write([]byte{id})
	h.Write([]byte(secret))
	h.Write(challenge)
	var out [16]byte
	h.Sum(out[:0])
	return out
}
