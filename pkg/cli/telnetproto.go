package cli

import (
	"net"
	"sync"
	"time"
)

// Telnet protocol bytes, RFC 854 and the option RFCs named below.
const (
	telSE   = 240
	telSB   = 250
	telWILL = 251
	telWONT = 252
	telDO   = 253
	telDONT = 254
	telIAC  = 255

	optEcho = 1  // RFC 857
	optSGA  = 3  // RFC 858, suppress go-ahead
	optNAWS = 31 // RFC 1073, window size
	optLine = 34 // RFC 1184, linemode
)

// telnetState is where the input decoder is within an IAC sequence.
type telnetState int

const (
	telData    telnetState = iota
	telCR                  // after CR: drop a following NUL or LF (RFC 854 "CR NUL", "CR LF")
	telIACSeen             // after IAC
	telOption              // after IAC WILL/WONT/DO/DONT: the option byte comes next
	telSub                 // inside IAC SB ... IAC SE
	telSubIAC              // IAC inside a subnegotiation
)

// A telnetConn is a net.Conn speaking the server side of a minimal telnet:
// it asks the client for character mode with server echo (WILL ECHO, WILL
// SGA, DO SGA, DO NAWS, DONT LINEMODE), strips IAC sequences from input,
// refuses options it does not know, reports window sizes and doubles 0xFF
// on output. Read applies the idle timeout.
type telnetConn struct {
	net.Conn
	idle time.Duration
	// onSize, if set, is called from Read with the client's window size.
	onSize func(w, h int)

	// Read side; Read is called from one goroutine only.
	state   telnetState
	verb    byte
	sub     []byte
	raw     [512]byte
	refused map[[2]byte]bool

	wmu sync.Mutex // serializes writes (negotiation replies vs. output)
}

func newTelnetConn(c net.Conn, idle time.Duration) *telnetConn {
	return &telnetConn{Conn: c, idle: idle, refused: map[[2]byte]bool{}}
}

// negotiate sends the server's opening options.
func (tc *telnetConn) negotiate() error {
	return tc.writeRaw([]byte{
		telIAC, telWILL, optEcho,
		telIAC, telWILL, optSGA,
		telIAC, telDO, optSGA,
		telIAC, telDO, optNAWS,
		telIAC, telDONT, optLine,
	})
}

func (tc *telnetConn) writeRaw(b []byte) error {
	tc.wmu.Lock()
	defer tc.wmu.Unlock()
	_, err := tc.Conn.Write(b)
	return err
}

// Write sends data, doubling IAC bytes.
func (tc *telnetConn) Write(b []byte) (int, error) {
	out := b
	for i, c := range b {
		if c == telIAC {
			out = make([]byte, 0, len(b)+8)
			out = append(out, b[:i]...)
			for _, c := range b[i:] {
				out = append(out, c)
				if c == telIAC {
					out = append(out, telIAC)
				}
			}
			break
		}
	}
	if err := tc.writeRaw(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Read returns user data with telnet commands removed. It blocks until
// there is at least one data byte or an error.
func (tc *telnetConn) Read(p []byte) (int, error) {
	for {
		if tc.idle > 0 {
			tc.Conn.SetReadDeadline(time.Now().Add(tc.idle))
		}
		m := min(len(p), len(tc.raw))
		k, err := tc.Conn.Read(tc.raw[:m])
		n := tc.decode(tc.raw[:k], p)
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// decode strips telnet commands from in, writing data bytes to out
// (len(out) >= len(in)), and returns the number written.
func (tc *telnetConn) decode(in, out []byte) int {
	n := 0
	for _, c := range in {
		if tc.state == telCR {
			tc.state = telData
			if c == 0 || c == '\n' {
				continue
			}
		}
		if tc.state != telData {
			if tc.command(c) {
				out[n] = c // IAC IAC: a data 0xFF
				n++
			}
			continue
		}
		switch c {
		case telIAC:
			tc.state = telIACSeen
		case '\r':
			out[n] = c
			n++
			tc.state = telCR
		default:
			out[n] = c
			n++
		}
	}
	return n
}

// command advances the decoder through an IAC sequence by one byte; it
// reports whether c is an escaped data byte.
func (tc *telnetConn) command(c byte) (data bool) {
	switch tc.state {
	case telIACSeen:
		switch c {
		case telIAC:
			tc.state = telData
			return true
		case telWILL, telWONT, telDO, telDONT:
			tc.verb, tc.state = c, telOption
		case telSB:
			tc.sub, tc.state = tc.sub[:0], telSub
		default: // NOP, GA, AYT, ...: ignored
			tc.state = telData
		}
	case telOption:
		tc.state = telData
		tc.answer(tc.verb, c)
	case telSub:
		if c == telIAC {
			tc.state = telSubIAC
		} else if len(tc.sub) < 64 {
			tc.sub = append(tc.sub, c)
		}
	case telSubIAC:
		switch c {
		case telSE:
			tc.state = telData
			tc.subnegotiation()
		case telIAC:
			tc.state = telSub
			if len(tc.sub) < 64 {
				tc.sub = append(tc.sub, telIAC)
			}
		default:
			tc.state = telData
		}
	}
	return false
}

// answer refuses options the server did not ask for; answers to our own
// requests need no reply.
func (tc *telnetConn) answer(verb, opt byte) {
	var reply byte
	switch verb {
	case telWILL:
		if opt == optNAWS || opt == optSGA {
			return
		}
		reply = telDONT
	case telDO:
		if opt == optEcho || opt == optSGA {
			return
		}
		reply = telWONT
	default:
		return // WONT/DONT: the option is off, which is what we want
	}
	key := [2]byte{reply, opt}
	if tc.refused[key] {
		return // refuse once; never loop (RFC 854)
	}
	tc.refused[key] = true
	tc.writeRaw([]byte{telIAC, reply, opt})
}

func (tc *telnetConn) subnegotiation() {
	s := tc.sub
	if len(s) == 5 && s[0] == optNAWS && tc.onSize != nil {
		w, h := int(s[1])<<8|int(s[2]), int(s[3])<<8|int(s[4])
		if w > 0 && h > 0 {
			tc.onSize(w, h)
		}
	}
}
