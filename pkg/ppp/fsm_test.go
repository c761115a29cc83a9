package ppp

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// stubHandler is an option policy with a fixed verdict that records the
// this-layer actions.
type stubHandler struct {
	l       *Link
	verdict uint8
	calls   *[]string
}

func (h stubHandler) appendRequest(b []byte) []byte { return append(b, 1, 4, 0x05, 0xd4) }
func (h stubHandler) checkRequest(opts []byte, emit uint8, nakOK bool) uint8 {
	if emit != 0 {
		h.l.out = append(h.l.out, opts...)
	}
	return h.verdict
}
func (h stubHandler) gotNak([]byte)           {}
func (h stubHandler) gotReject(int64, []byte) {}
func (h stubHandler) tlu(int64)               { *h.calls = append(*h.calls, "tlu") }
func (h stubHandler) tld(int64)               { *h.calls = append(*h.calls, "tld") }
func (h stubHandler) tls(int64)               { *h.calls = append(*h.calls, "tls") }
func (h stubHandler) tlf(int64)               { *h.calls = append(*h.calls, "tlf") }

var t0 = time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)

// TestAutomaton checks RFC 1661 §4.1's state transition table, row by
// row, with a fixed clock.
func TestAutomaton(t *testing.T) {
	const (
		Ini, Sta, Cld, Stp, Cls, Spg, RS, AR, AS, Op = StateInitial, StateStarting, StateClosed, StateStopped,
			StateClosing, StateStopping, StateReqSent, StateAckRcvd, StateAckSent, StateOpened
		CR, CA, CN, CJ, TR, TA, XJ = CodeConfigureRequest, CodeConfigureAck, CodeConfigureNak, CodeConfigureReject,
			CodeTerminateRequest, CodeTerminateAck, CodeCodeReject
	)
	type row struct {
		from  State
		event string
		to    State
		sends []uint8
		calls []string
	}
	rows := []row{
		{Ini, "Up", Cld, nil, nil},
		{Sta, "Up", RS, []uint8{CR}, nil},
		{Cld, "Down", Ini, nil, nil},
		{Stp, "Down", Sta, nil, []string{"tls"}},
		{Cls, "Down", Ini, nil, nil},
		{Spg, "Down", Sta, nil, nil},
		{RS, "Down", Sta, nil, nil},
		{AR, "Down", Sta, nil, nil},
		{AS, "Down", Sta, nil, nil},
		{Op, "Down", Sta, nil, []string{"tld"}},
		{Ini, "Open", Sta, nil, []string{"tls"}},
		{Sta, "Open", Sta, nil, nil},
		{Cld, "Open", RS, []uint8{CR}, nil},
		{Stp, "Open", Stp, nil, nil},
		{Cls, "Open", Spg, nil, nil},
		{Op, "Open", Op, nil, nil},
		{Ini, "Close", Ini, nil, nil},
		{Sta, "Close", Ini, nil, []string{"tlf"}},
		{Cld, "Close", Cld, nil, nil},
		{Stp, "Close", Cld, nil, nil},
		{Cls, "Close", Cls, nil, nil},
		{Spg, "Close", Cls, nil, nil},
		{RS, "Close", Cls, []uint8{TR}, nil},
		{AR, "Close", Cls, []uint8{TR}, nil},
		{AS, "Close", Cls, []uint8{TR}, nil},
		{Op, "Close", Cls, []uint8{TR}, []string{"tld"}},
		{Cls, "TO+", Cls, []uint8{TR}, nil},
		{Spg, "TO+", Spg, []uint8{TR}, nil},
		{RS, "TO+", RS, []uint8{CR}, nil},
		{AR, "TO+", RS, []uint8{CR}, nil},
		{AS, "TO+", AS, []uint8{CR}, nil},
		{Cls, "TO-", Cld, nil, []string{"tlf"}},
		{Spg, "TO-", Stp, nil, []string{"tlf"}},
		{RS, "TO-", Stp, nil, []string{"tlf"}},
		{AR, "TO-", Stp, nil, []string{"tlf"}},
		{AS, "TO-", Stp, nil, []string{"tlf"}},
		{Cld, "RCR+", Cld, []uint8{TA}, nil},
		{Stp, "RCR+", AS, []uint8{CR, CA}, nil},
		{Cls, "RCR+", Cls, nil, nil},
		{Spg, "RCR+", Spg, nil, nil},
		{RS, "RCR+", AS, []uint8{CA}, nil},
		{AR, "RCR+", Op, []uint8{CA}, []string{"tlu"}},
		{AS, "RCR+", AS, []uint8{CA}, nil},
		{Op, "RCR+", AS, []uint8{CR, CA}, []string{"tld"}},
		{Cld, "RCR-", Cld, []uint8{TA}, nil},
		{Stp, "RCR-", RS, []uint8{CR, CN}, nil},
		{RS, "RCR-", RS, []uint8{CN}, nil},
		{AR, "RCR-", AR, []uint8{CN}, nil},
		{AS, "RCR-", RS, []uint8{CN}, nil},
		{Op, "RCR-", RS, []uint8{CR, CN}, []string{"tld"}},
		{Cld, "RCA", Cld, []uint8{TA}, nil},
		{Stp, "RCA", Stp, []uint8{TA}, nil},
		{Cls, "RCA", Cls, nil, nil},
		{RS, "RCA", AR, nil, nil},
		{AR, "RCA", RS, []uint8{CR}, nil},
		{AS, "RCA", Op, nil, []string{"tlu"}},
		{Op, "RCA", RS, []uint8{CR}, []string{"tld"}},
		{Cld, "RCN", Cld, []uint8{TA}, nil},
		{RS, "RCN", RS, []uint8{CR}, nil},
		{AR, "RCN", RS, []uint8{CR}, nil},
		{AS, "RCN", AS, []uint8{CR}, nil},
		{Op, "RCN", RS, []uint8{CR}, []string{"tld"}},
		{Cld, "RTR", Cld, []uint8{TA}, nil},
		{Cls, "RTR", Cls, []uint8{TA}, nil},
		{RS, "RTR", RS, []uint8{TA}, nil},
		{AR, "RTR", RS, []uint8{TA}, nil},
		{AS, "RTR", RS, []uint8{TA}, nil},
		{Op, "RTR", Spg, []uint8{TA}, []string{"tld"}},
		{Cld, "RTA", Cld, nil, nil},
		{Cls, "RTA", Cld, nil, []string{"tlf"}},
		{Spg, "RTA", Stp, nil, []string{"tlf"}},
		{RS, "RTA", RS, nil, nil},
		{AR, "RTA", RS, nil, nil},
		{AS, "RTA", AS, nil, nil},
		{Op, "RTA", RS, []uint8{CR}, []string{"tld"}},
		{Cld, "RUC", Cld, []uint8{XJ}, nil},
		{Op, "RUC", Op, []uint8{XJ}, nil},
		{Ini, "RUC", Ini, nil, nil},
		{AR, "RXJ+", RS, nil, nil},
		{Op, "RXJ+", Op, nil, nil},
		{Cld, "RXJ-", Cld, nil, []string{"tlf"}},
		{Stp, "RXJ-", Stp, nil, []string{"tlf"}},
		{Cls, "RXJ-", Cld, nil, []string{"tlf"}},
		{Spg, "RXJ-", Stp, nil, []string{"tlf"}},
		{RS, "RXJ-", Stp, nil, []string{"tlf"}},
		{AR, "RXJ-", Stp, nil, []string{"tlf"}},
		{AS, "RXJ-", Stp, nil, []string{"tlf"}},
		{Op, "RXJ-", Spg, []uint8{TR}, []string{"tld"}},
	}
	for _, r := range rows {
		t.Run(fmt.Sprintf("%v/%s", r.from, r.event), func(t *testing.T) {
			l := New(&Config{})
			var calls []string
			h := stubHandler{l: l, verdict: CodeConfigureAck, calls: &calls}
			f := &fsm{proto: 0x1234, state: r.from, restart: 3, id: 7}
			now := t0.UnixNano()
			if f.state.timerRuns() {
				f.deadline = now - 1 // as if armed earlier
			}
			switch r.event {
			case "Up":
				f.up(l, h, now)
			case "Down":
				f.down(l, h, now)
			case "Open":
				f.open(l, h, now)
			case "Close":
				f.close(l, h, now)
			case "TO+":
				f.timeout(l, h, now)
			case "TO-":
				f.restart = 0
				f.timeout(l, h, now)
			case "RCR+":
				f.rcr(l, h, now, Packet{Code: CR, ID: 1, Data: []byte{1, 2}})
			case "RCR-":
				h.verdict = CN
				f.rcr(l, h, now, Packet{Code: CR, ID: 1, Data: []byte{1, 2}})
			case "RCA":
				f.rca(l, h, now)
			case "RCN":
				f.rcn(l, h, now)
			case "RTR":
				f.rtr(l, h, now, 9)
			case "RTA":
				f.rta(l, h, now)
			case "RUC":
				f.ruc(l, []byte{99, 1, 0, 4})
			case "RXJ+":
				f.rxj(l, h, now, false)
			case "RXJ-":
				f.rxj(l, h, now, true)
			}
			if f.state != r.to {
				t.Errorf("state = %v, want %v", f.state, r.to)
			}
			var sends []uint8
			for _, e := range l.fx {
				if e.Kind == EffectSend {
					if e.Proto != 0x1234 {
						t.Errorf("sent proto %#x", e.Proto)
					}
					sends = append(sends, e.Data[0])
				}
			}
			if !slices.Equal(sends, r.sends) {
				t.Errorf("sent codes %v, want %v", sends, r.sends)
			}
			if !slices.Equal(calls, r.calls) {
				t.Errorf("actions %v, want %v", calls, r.calls)
			}
			if f.state.timerRuns() != (f.deadline != 0) {
				t.Errorf("timer running=%v in %v", f.deadline != 0, f.state)
			}
		})
	}
}

// TestMaxConfigure: an unanswered link sends Max-Configure requests, one
// per restart period, then fails negotiation.
func TestMaxConfigure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantCRs int
		restart time.Duration
	}{
		{"defaults", Config{}, 10, 3 * time.Second},
		{"configured", Config{MaxConfigure: 3, Restart: time.Second}, 3, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := New(&tc.cfg)
			now := t0
			crs := countSends(l.Open(now), ProtoLCP, CodeConfigureRequest)
			var down *Effect
			for i := 0; i < 50 && down == nil; i++ {
				dl := l.NextDeadline()
				if got := dl.Sub(now); got != tc.restart {
					t.Fatalf("deadline in %v, want %v", got, tc.restart)
				}
				now = dl
				fx := l.Tick(now)
				crs += countSends(fx, ProtoLCP, CodeConfigureRequest)
				down = findKind(fx, EffectDown)
			}
			if crs != tc.wantCRs {
				t.Errorf("sent %d Configure-Requests, want %d", crs, tc.wantCRs)
			}
			if down == nil || down.Reason != ReasonNegotiation {
				t.Fatalf("down = %+v, want negotiation-failed", down)
			}
			if !l.NextDeadline().IsZero() || l.LCPState() != StateStopped {
				t.Errorf("after down: deadline %v state %v", l.NextDeadline(), l.LCPState())
			}
		})
	}
}

func countSends(fx []Effect, proto uint16, code uint8) int {
	n := 0
	for _, e := range fx {
		if e.Kind == EffectSend && e.Proto == proto && len(e.Data) > 0 && e.Data[0] == code {
			n++
		}
	}
	return n
}

func findKind(fx []Effect, k EffectKind) *Effect {
	for i := range fx {
		if fx[i].Kind == k {
			e := fx[i]
			return &e
		}
	}
	return nil
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{StateReqSent.String(), "Req-Sent"},
		{State(99).String(), "State(?)"},
		{PhaseNetwork.String(), "Network"},
		{ReasonEchoTimeout.String(), "echo-timeout"},
		{ReasonLoopback.String(), "loopback"},
		{EffectAuthRequest.String(), "AuthRequest"},
		{EffectKind(0).String(), "EffectKind(?)"},
		{(AuthPAP | AuthCHAP).String(), "pap|chap"},
		{RoleClient.String(), "client"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
