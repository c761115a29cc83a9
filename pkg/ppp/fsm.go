package ppp

// A State is a state of the RFC 1661 §4 option-negotiation automaton.
//
//	          Open                        Up
//	Initial ────────► Starting ──────────────────────────► ReqSent ◄──┐
//	   │ Up              ▲  Down                  RCA │    │ RCR+    │RCN
//	   ▼                 │                            ▼    ▼         │
//	Closed ◄──────── Closing ◄── Close ──┐       AckRcvd  AckSent ───┘
//	   ▲  RTA/TO-        │ RTA/TO-       │  RCR+ │          │ RCA
//	   │                 ▼               │       ▼          ▼
//	Stopped ◄──────── Stopping ◄── RTR ── Opened ◄──────────┘
//
// (Simplified; the full table is RFC 1661 §4.1 and fsm.go follows it row
// by row.)
type State uint8

// The ten states of RFC 1661 §4.2.
const (
	StateInitial State = iota
	StateStarting
	StateClosed
	StateStopped
	StateClosing
	StateStopping
	StateReqSent
	StateAckRcvd
	StateAckSent
	StateOpened
)

var stateNames = [...]string{"Initial", "Starting", "Closed", "Stopped", "Closing", "Stopping", "Req-Sent", "Ack-Rcvd", "Ack-Sent", "Opened"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(?)"
}

// timerRuns reports whether the restart timer runs in s (RFC 1661 §4.6).
func (s State) timerRuns() bool {
	switch s {
	case StateClosing, StateStopping, StateReqSent, StateAckRcvd, StateAckSent:
		return true
	}
	return false
}

// An optionHandler is the per-protocol option policy (LCP, IPCP, IPv6CP)
// and the this-layer actions of RFC 1661 §4.4.
type optionHandler interface {
	// appendRequest appends the options of our Configure-Request.
	appendRequest(b []byte) []byte
	// checkRequest classifies the peer's Configure-Request options (well
	// formed, already validated). With emit 0 it only returns the reply
	// code (Ack, Nak or Reject) and changes no state; with emit set to
	// that code it appends the reply's options to the link's output.
	// nakOK is false once Max-Failure Naks were sent: what would be Nak'd
	// is Rejected instead (RFC 1661 §4.6 Max-Failure).
	checkRequest(opts []byte, emit uint8, nakOK bool) uint8
	// gotNak and gotReject adjust our next request (RFC 1661 §5.3, §5.4).
	gotNak(opts []byte)
	gotReject(now int64, opts []byte)
	tlu(now int64)
	tld(now int64)
	tls(now int64)
	tlf(now int64)
}

// fsm is the RFC 1661 automaton of one protocol. It is 16 bytes; the policy
// and output are passed in by the Link on every event.
type fsm struct {
	proto    uint16
	state    State
	id       uint8 // Identifier of our last Configure- or Terminate-Request
	restart  uint8 // Restart counter (RFC 1661 §4.6)
	failures uint8 // Configure-Naks sent since our last Configure-Ack
	_        [2]byte
	deadline int64 // restart timer, Link clock (see Link.clock); 0 when stopped
}

func (f *fsm) setState(s State) {
	f.state = s
	if !s.timerRuns() {
		f.deadline = 0
	}
}

// Actions (RFC 1661 §4.4).

func (f *fsm) irc(l *Link, terminate bool) {
	if terminate {
		f.restart = uint8(l.cfg.maxTerminate())
	} else {
		f.restart = uint8(l.cfg.maxConfigure())
	}
}

func (f *fsm) zrc(l *Link, now int64) {
	f.restart = 0
	f.deadline = now + int64(l.cfg.restart())
}

func (f *fsm) scr(l *Link, h optionHandler, now int64) {
	f.id++
	start := l.begin(CodeConfigureRequest, f.id)
	l.out = h.appendRequest(l.out)
	l.end(f.proto, start)
	if f.restart > 0 {
		f.restart--
	}
	f.deadline = now + int64(l.cfg.restart())
}

func (f *fsm) str(l *Link, now int64) {
	f.id++
	start := l.begin(CodeTerminateRequest, f.id)
	l.end(f.proto, start)
	if f.restart > 0 {
		f.restart--
	}
	f.deadline = now + int64(l.cfg.restart())
}

func (f *fsm) sta(l *Link, id uint8) {
	l.end(f.proto, l.begin(CodeTerminateAck, id))
}

// sca sends Configure-Ack echoing the peer's options.
func (f *fsm) sca(l *Link, id uint8, opts []byte) {
	start := l.begin(CodeConfigureAck, id)
	l.out = append(l.out, opts...)
	l.end(f.proto, start)
	f.failures = 0
}

// scn sends Configure-Nak or -Reject as the handler decides.
func (f *fsm) scn(l *Link, h optionHandler, code, id uint8, opts []byte) {
	start := l.begin(code, id)
	h.checkRequest(opts, code, f.nakOK(l))
	l.end(f.proto, start)
	if code == CodeConfigureNak {
		f.failures++
	}
}

func (f *fsm) nakOK(l *Link) bool { return int(f.failures) < l.cfg.maxFailure() }

// scj sends Code-Reject with the offending packet, truncated to fit the
// peer's MRU (RFC 1661 §5.6).
func (f *fsm) scj(l *Link, pkt []byte) {
	l.xid++
	start := l.begin(CodeCodeReject, l.xid)
	l.out = append(l.out, l.clip(pkt, HeaderLen)...)
	l.end(f.proto, start)
}

// Events (RFC 1661 §4.3), following the state table of §4.1.

func (f *fsm) up(l *Link, h optionHandler, now int64) {
	switch f.state {
	case StateInitial:
		f.setState(StateClosed)
	case StateStarting:
		f.irc(l, false)
		f.setState(StateReqSent)
		f.scr(l, h, now)
	}
}

func (f *fsm) down(l *Link, h optionHandler, now int64) {
	switch f.state {
	case StateClosed, StateClosing:
		f.setState(StateInitial)
	case StateStopped:
		f.setState(StateStarting)
		h.tls(now)
	case StateStopping, StateReqSent, StateAckRcvd, StateAckSent:
		f.setState(StateStarting)
	case StateOpened:
		f.setState(StateStarting)
		h.tld(now)
	}
}

func (f *fsm) open(l *Link, h optionHandler, now int64) {
	switch f.state {
	case StateInitial:
		f.setState(StateStarting)
		h.tls(now)
	case StateClosed:
		f.irc(l, false)
		f.setState(StateReqSent)
		f.scr(l, h, now)
	case StateClosing:
		f.setState(StateStopping)
	}
}

func (f *fsm) close(l *Link, h optionHandler, now int64) {
	switch f.state {
	case StateStarting:
		f.setState(StateInitial)
		h.tlf(now)
	case StateStopped:
		f.setState(StateClosed)
	case StateStopping:
		f.setState(StateClosing)
	case StateReqSent, StateAckRcvd, StateAckSent:
		f.irc(l, true)
		f.setState(StateClosing)
		f.str(l, now)
	case StateOpened:
		f.irc(l, true)
		f.setState(StateClosing)
		h.tld(now)
		f.str(l, now)
	}
}

// timeout is TO+ or TO- depending on the restart counter.
func (f *fsm) timeout(l *Link, h optionHandler, now int64) {
	f.deadline = 0
	if f.restart > 0 { // TO+
		switch f.state {
		case StateClosing, StateStopping:
			f.str(l, now)
		case StateReqSent, StateAckRcvd:
			f.setState(StateReqSent)
			f.scr(l, h, now)
		case StateAckSent:
			f.scr(l, h, now)
		}
		return
	}
	switch f.state { // TO-
	case StateClosing:
		f.setState(StateClosed)
		h.tlf(now)
	case StateStopping, StateReqSent, StateAckRcvd, StateAckSent:
		f.setState(StateStopped)
		h.tlf(now)
	}
}

// rcr handles a Configure-Request (RCR+ or RCR-).
func (f *fsm) rcr(l *Link, h optionHandler, now int64, p Packet) {
	switch f.state {
	case StateInitial, StateStarting:
		return // no lower layer: cannot happen, drop
	case StateClosed:
		f.sta(l, p.ID)
		return
	case StateClosing, StateStopping:
		return
	}
	code := h.checkRequest(p.Data, 0, f.nakOK(l))
	good := code == CodeConfigureAck
	reply := func() {
		if good {
			f.sca(l, p.ID, p.Data)
		} else {
			f.scn(l, h, code, p.ID, p.Data)
		}
	}
	switch f.state {
	case StateStopped:
		f.irc(l, false)
		f.scr(l, h, now)
		reply()
		f.setState(pick(good, StateAckSent, StateReqSent))
	case StateReqSent:
		reply()
		f.setState(pick(good, StateAckSent, StateReqSent))
	case StateAckRcvd:
		reply()
		if good {
			f.setState(StateOpened)
			h.tlu(now)
		}
	case StateAckSent:
		reply()
		f.setState(pick(good, StateAckSent, StateReqSent))
	case StateOpened:
		f.setState(pick(good, StateAckSent, StateReqSent))
		h.tld(now)
		f.scr(l, h, now)
		reply()
	}
}

func pick(good bool, a, b State) State {
	if good {
		return a
	}
	return b
}

// rca handles a Configure-Ack that the caller matched to our request.
func (f *fsm) rca(l *Link, h optionHandler, now int64) {
	switch f.state {
	case StateClosed, StateStopped:
		f.sta(l, f.id)
	case StateReqSent:
		f.irc(l, false)
		f.setState(StateAckRcvd) // the restart timer keeps running
	case StateAckRcvd: // crossed connection
		f.setState(StateReqSent)
		f.scr(l, h, now)
	case StateAckSent:
		f.irc(l, false)
		f.setState(StateOpened)
		h.tlu(now)
	case StateOpened:
		f.setState(StateReqSent)
		h.tld(now)
		f.scr(l, h, now)
	}
}

// rcn handles a Configure-Nak or -Reject matched to our request; the
// handler has already applied it.
func (f *fsm) rcn(l *Link, h optionHandler, now int64) {
	switch f.state {
	case StateClosed, StateStopped:
		f.sta(l, f.id)
	case StateReqSent:
		f.irc(l, false)
		f.scr(l, h, now)
	case StateAckRcvd:
		f.setState(StateReqSent)
		f.scr(l, h, now)
	case StateAckSent:
		f.irc(l, false)
		f.scr(l, h, now)
	case StateOpened:
		f.setState(StateReqSent)
		h.tld(now)
		f.scr(l, h, now)
	}
}

func (f *fsm) rtr(l *Link, h optionHandler, now int64, id uint8) {
	switch f.state {
	case StateClosed, StateStopped, StateClosing, StateStopping:
		f.sta(l, id)
	case StateReqSent, StateAckRcvd, StateAckSent:
		f.setState(StateReqSent)
		f.sta(l, id)
	case StateOpened:
		f.setState(StateStopping)
		h.tld(now)
		f.zrc(l, now)
		f.sta(l, id)
	}
}

func (f *fsm) rta(l *Link, h optionHandler, now int64) {
	switch f.state {
	case StateClosing:
		f.setState(StateClosed)
		h.tlf(now)
	case StateStopping:
		f.setState(StateStopped)
		h.tlf(now)
	case StateAckRcvd:
		f.setState(StateReqSent)
	case StateOpened:
		f.setState(StateReqSent)
		h.tld(now)
		f.scr(l, h, now)
	}
}

// rxj handles Code-Reject or Protocol-Reject; fatal selects RXJ-.
func (f *fsm) rxj(l *Link, h optionHandler, now int64, fatal bool) {
	if !fatal {
		if f.state == StateAckRcvd {
			f.setState(StateReqSent)
		}
		return
	}
	switch f.state {
	case StateClosed, StateClosing:
		f.setState(StateClosed)
		h.tlf(now)
	case StateStopped, StateStopping, StateReqSent, StateAckRcvd, StateAckSent:
		f.setState(StateStopped)
		h.tlf(now)
	case StateOpened:
		f.irc(l, true)
		f.setState(StateStopping)
		h.tld(now)
		f.str(l, now)
	}
}

// input dispatches the codes common to every automaton (RFC 1661 §5.1-5.6)
// and reports whether it handled the code.
func (f *fsm) input(l *Link, h optionHandler, now int64, p Packet, raw []byte) bool {
	switch p.Code {
	case CodeConfigureRequest:
		if ValidateOptions(p.Data) != nil {
			l.stats.Malformed++
			return true
		}
		f.rcr(l, h, now, p)
	case CodeConfigureAck:
		if p.ID != f.id || !l.sameRequest(h, p.Data) {
			l.stats.Malformed++ // RFC 1661 §5.2: silently discard
			return true
		}
		f.rca(l, h, now)
	case CodeConfigureNak, CodeConfigureReject:
		if p.ID != f.id || ValidateOptions(p.Data) != nil {
			l.stats.Malformed++
			return true
		}
		if f.state == StateInitial || f.state == StateStarting {
			return true
		}
		before := f.state
		if p.Code == CodeConfigureNak {
			h.gotNak(p.Data)
		} else {
			h.gotReject(now, p.Data)
		}
		if f.state != before || l.flags&flagDone != 0 {
			return true // the handler gave up (a required option was rejected)
		}
		f.rcn(l, h, now)
	case CodeTerminateRequest:
		if f.state == StateInitial || f.state == StateStarting {
			return true
		}
		f.rtr(l, h, now, p.ID)
	case CodeTerminateAck:
		f.rta(l, h, now)
	case CodeCodeReject:
		if len(p.Data) < 1 {
			l.stats.Malformed++
			return true
		}
		// Rejecting a code the automaton needs is fatal (RXJ-); others
		// (Echo, Discard, RFC 1570 extensions) are not.
		c := p.Data[0]
		f.rxj(l, h, now, c >= CodeConfigureRequest && c <= CodeCodeReject || c == CodeProtocolReject && f.proto == ProtoLCP)
	default:
		return false
	}
	return true
}

// ruc handles an unknown code: Code-Reject (RFC 1661 §4.3 RUC).
func (f *fsm) ruc(l *Link, raw []byte) {
	if f.state == StateInitial || f.state == StateStarting {
		return
	}
	f.scj(l, raw)
}
