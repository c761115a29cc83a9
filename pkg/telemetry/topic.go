package telemetry

import (
	"strings"
	"unicode/utf8"
)

// EscapeUser turns a PPP username into one MQTT topic level.
//
// The result contains no '/', '+' or '#', no control characters and only
// valid UTF-8, and the mapping is injective, so that one user's level can
// never name, or match, another user's topics. Those bytes and '%' itself
// are written as %XX (upper-case hex); the empty name becomes "%", which no
// non-empty name can produce because every other '%' is followed by two hex
// digits.
func EscapeUser(user string) string {
	if user == "" {
		return "%"
	}
	if !needsEscape(user) {
		return user
	}
	var b strings.Builder
	b.Grow(len(user) + 8)
	for i := 0; i < len(user); {
		r, size := utf8.DecodeRuneInString(user[i:])
		switch {
		case r == utf8.RuneError && size <= 1, r < 0x20, r == 0x7f,
			r == '/', r == '+', r == '#', r == '%':
			for j := 0; j < size; j++ {
				writeHex(&b, user[i+j])
			}
		default:
			b.WriteString(user[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == 0x7f, c == '/', c == '+', c == '#', c == '%':
			return true
		}
	}
	return false
}

func writeHex(b *strings.Builder, c byte) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&0xf])
}

// topics names the telemetry topics of one NAS.
type topics struct {
	root string // <prefix>/<nas>
}

func newTopics(prefix, nas string) topics { return topics{root: prefix + "/" + nas} }

// userBase is <prefix>/<nas>/session/<escaped user>.
func (t topics) userBase(user string) string { return t.root + "/session/" + EscapeUser(user) }

func (t topics) state(user string) string { return t.userBase(user) + "/state" }
func (t topics) event(user string) string { return t.userBase(user) + "/event" }
func (t topics) usage(user string) string { return t.userBase(user) + "/usage" }

// subtree is the filter of everything this NAS publishes.
func (t topics) subtree() string { return t.root + "/#" }

// cmdBase is where operators may publish (nothing handles it yet).
func (t topics) cmdBase() string { return t.root + "/cmd" }

// within reports whether topic (a name or a filter) is base itself or lies
// under it. base must contain no wildcard, so a filter that passes can match
// nothing outside base.
func within(topic, base string) bool {
	return topic == base || strings.HasPrefix(topic, base+"/")
}

// validLevelPath reports whether s is usable as a fixed topic prefix: non
// empty, valid UTF-8, no wildcards, no empty levels, no leading '$'.
func validLevelPath(s string) bool {
	if s == "" || !utf8.ValidString(s) || strings.ContainsAny(s, "+#\x00") || s[0] == '$' {
		return false
	}
	for _, l := range strings.Split(s, "/") {
		if l == "" {
			return false
		}
	}
	return true
}
