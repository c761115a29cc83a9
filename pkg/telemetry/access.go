package telemetry

import (
	"bytes"
	"context"
	"crypto/subtle"
	"log/slog"
	"net"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/crypto/bcrypt"
)

// role is what a connected client may do.
type role int

const (
	roleNone      role = iota
	roleCustomer       // reads its own <prefix>/<nas>/session/<user>/#
	roleOperator       // reads everything, writes <prefix>/<nas>/cmd/#
	roleAnonymous      // (Config.Anonymous) reads everything, writes nothing
)

// access decides logins and topic access. The role of a connected client
// follows from its username alone: operator names are reserved (an operator
// name never reaches AAA), the empty name is anonymous, any other name is a
// customer that AAA accepted.
type access struct {
	topics    topics
	operators map[string][]byte
	anonymous bool
	logins    *loginChecker
	log       *slog.Logger

	// Counters for /metrics, by LoginResult, plus operator results.
	results     [LoginError + 1]atomic.Uint64
	operatorOK  atomic.Uint64
	operatorBad atomic.Uint64
	anonRefused atomic.Uint64
	takeovers   atomic.Uint64 // refused client-ID takeovers across users
}

func (a *access) roleOf(user []byte) role {
	if len(user) == 0 {
		if a.anonymous {
			return roleAnonymous
		}
		return roleNone
	}
	if _, ok := a.operators[string(user)]; ok {
		return roleOperator
	}
	return roleCustomer
}

// allowed is the ACL: may a client with this username read (subscribe to,
// or receive) or write (publish) topic, which is a topic name or filter.
func (a *access) allowed(user []byte, topic string, write bool) bool {
	switch a.roleOf(user) {
	case roleOperator:
		return !write || within(topic, a.topics.cmdBase())
	case roleAnonymous:
		return !write
	case roleCustomer:
		return !write && within(topic, a.topics.userBase(string(user)))
	}
	return false
}

// login decides a CONNECT.
func (a *access) login(ctx context.Context, user, pw []byte, userFlag bool, remote string) bool {
	r := a.roleOf(user)
	if !userFlag {
		r = a.roleOf(nil)
	}
	log := a.log.With("mqtt_user", string(user), "remote", remote)
	switch r {
	case roleAnonymous:
		if len(pw) == 0 {
			return true
		}
		a.anonRefused.Add(1)
		return false
	case roleOperator:
		if checkOperatorPassword(a.operators[string(user)], pw) {
			a.operatorOK.Add(1)
			return true
		}
		a.operatorBad.Add(1)
		log.Warn("mqtt operator login refused")
		return false
	case roleCustomer:
		host, _, err := net.SplitHostPort(remote)
		if err != nil {
			host = remote
		}
		res, err := a.logins.Check(ctx, string(user), pw, host)
		a.results[res].Add(1)
		switch res {
		case LoginRejected:
			log.Info("mqtt customer login rejected")
		case LoginLimited:
			log.Debug("mqtt customer login rate-limited") // counted in /metrics; an attack would flood the log
		case LoginError:
			log.Warn("mqtt customer login: no AAA decision", slog.Any("err", err))
		}
		return res.Accepted()
	}
	a.anonRefused.Add(1)
	return false
}

// hook plugs access into mochi.
type hook struct {
	mqtt.HookBase
	a   *access
	srv *mqtt.Server
}

func (h *hook) ID() string { return "bngbox-access" }

func (h *hook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if !h.a.login(context.Background(), pk.Connect.Username, pk.Connect.Password, pk.Connect.UsernameFlag, cl.Net.Remote) {
		return false
	}
	// A client ID belongs to one username: mochi would otherwise let any
	// logged-in client take over (disconnect, and inherit the session of)
	// another user's client by reusing its ID. Operators may take over.
	if cl.ID == mqtt.InlineClientId {
		h.a.takeovers.Add(1)
		return false // would take over our own publisher
	}
	if old, ok := h.srv.Clients.Get(cl.ID); ok && !bytes.Equal(old.Properties.Username, cl.Properties.Username) &&
		h.a.roleOf(cl.Properties.Username) != roleOperator {
		h.a.log.Warn("mqtt login refused: client id in use by another user", "mqtt_user", string(cl.Properties.Username),
			"client_id", cl.ID, "remote", cl.Net.Remote)
		h.a.takeovers.Add(1)
		return false
	}
	return true
}

// OnACLCheck is called for SUBSCRIBE filters, PUBLISH topics and for every
// delivery, retained messages included (mochi publishToClient), so a
// message can never reach a client the ACL does not allow.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	return h.a.allowed(cl.Properties.Username, topic, write)
}

var _ mqtt.Hook = (*hook)(nil)

// checkOperatorPassword compares pw with the configured password or bcrypt hash.
func checkOperatorPassword(want, pw []byte) bool {
	if isBcrypt(want) {
		return bcrypt.CompareHashAndPassword(want, pw) == nil
	}
	return subtle.ConstantTimeCompare(want, pw) == 1
}

func isBcrypt(b []byte) bool {
	return len(b) == 60 && (bytes.HasPrefix(b, []byte("$2a$")) || bytes.HasPrefix(b, []byte("$2b$")) || bytes.HasPrefix(b, []byte("$2y$")))
}

// operatorMap copies the operator accounts.
func operatorMap(ops []Account) map[string][]byte {
	m := make(map[string][]byte, len(ops))
	for _, o := range ops {
		m[o.User] = bytes.Clone([]byte(o.Password))
	}
	return m
}
