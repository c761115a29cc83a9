package radius

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"layeh.com/radius"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/mgmt"
	"github.com/bngbox/bngbox/pkg/rate"
	"github.com/bngbox/bngbox/pkg/session"
)

// ErrorCause is the RFC 5176 §3.5 Error-Cause value sent in NAKs.
type ErrorCause uint32

// Error-Cause values used by the DA server (RFC 5176 §3.5).
const (
	CauseUnsupportedAttribute ErrorCause = 401
	CauseMissingAttribute     ErrorCause = 402
	CauseNASIdentMismatch     ErrorCause = 403
	CauseInvalidRequest       ErrorCause = 404
	CauseUnsupportedService   ErrorCause = 405
	CauseInvalidAttrValue     ErrorCause = 407
	CauseSessionNotFound      ErrorCause = 503
	CauseResourcesUnavailable ErrorCause = 506
)

var errorCauseNames = map[ErrorCause]string{
	CauseUnsupportedAttribute: "Unsupported-Attribute", CauseMissingAttribute: "Missing-Attribute",
	CauseNASIdentMismatch: "NAS-Identification-Mismatch", CauseInvalidRequest: "Invalid-Request",
	CauseUnsupportedService: "Unsupported-Service", CauseInvalidAttrValue: "Invalid-Attribute-Value",
	CauseSessionNotFound: "Session-Context-Not-Found", CauseResourcesUnavailable: "Resources-Unavailable",
}

func (c ErrorCause) String() string {
	if s, ok := errorCauseNames[c]; ok {
		return s
	}
	return fmt.Sprintf("Error-Cause-%d", uint32(c))
}

// A DAClient is a host allowed to send CoA and Disconnect requests.
type DAClient struct {
	Address netip.Addr
	Secret  string
}

// DAConfig configures the Dynamic Authorization server (RFC 5176).
type DAConfig struct {
	Listen  string // default ":3799"
	Clients []DAClient
	// ReplayWindow is how far Event-Timestamp may be from now, and how
	// long a request is remembered to answer retransmissions without
	// acting twice; default 300s.
	ReplayWindow time.Duration
	// RequireEventTimestamp drops requests without Event-Timestamp.
	RequireEventTimestamp bool
	// RequireMessageAuthenticator drops requests without one.
	RequireMessageAuthenticator bool
	// NASIdentifier and NASIPAddress, when set, must match the request's
	// NAS-Identifier / NAS-IP-Address if present (else NAK 403).
	NASIdentifier string
	NASIPAddress  netip.Addr
	Logger        *slog.Logger
}

// A DAServer answers CoA-Request and Disconnect-Request by calling the
// management API: Disconnect → Terminate, CoA with rate attributes →
// SetRates (source "coa").
type DAServer struct {
	cfg     DAConfig
	api     mgmt.API
	in      *Interpreter
	log     *slog.Logger
	pc      *net.UDPConn
	clients map[netip.Addr][]byte
	wg      sync.WaitGroup

	mu    sync.Mutex
	cache map[daKey]daCached // guarded by mu

	counters sync.Map // string → *atomic.Uint64
}

type daKey struct {
	src  netip.AddrPort
	id   byte
	auth [16]byte
}

type daCached struct {
	at    time.Time
	reply []byte
}

// NewDAServer listens on cfg.Listen and serves until Close. in interprets
// rate attributes (Client.Interpreter()).
func NewDAServer(cfg DAConfig, api mgmt.API, in *Interpreter) (*DAServer, error) {
	if cfg.Listen == "" {
		cfg.Listen = ":3799"
	}
	if cfg.ReplayWindow == 0 {
		cfg.ReplayWindow = 300 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if api == nil || in == nil {
		return nil, errors.New("radius: DA server needs a management API and an interpreter")
	}
	d := &DAServer{cfg: cfg, api: api, in: in, log: cfg.Logger, clients: make(map[netip.Addr][]byte), cache: make(map[daKey]daCached)}
	for _, c := range cfg.Clients {
		if !c.Address.IsValid() || c.Secret == "" {
			return nil, fmt.Errorf("radius: DA client %v: address and secret required", c.Address)
		}
		d.clients[c.Address.Unmap()] = []byte(c.Secret)
	}
	ua, err := net.ResolveUDPAddr("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("radius: DA listen %s: %w", cfg.Listen, err)
	}
	if d.pc, err = net.ListenUDP("udp", ua); err != nil {
		return nil, fmt.Errorf("radius: DA listen %s: %w", cfg.Listen, err)
	}
	d.wg.Add(1)
	go d.serveLoop()
	return d, nil
}

// Addr returns the listening address.
func (d *DAServer) Addr() net.Addr { return d.pc.LocalAddr() }

// Close stops the server.
func (d *DAServer) Close() error {
	err := d.pc.Close()
	d.wg.Wait()
	return err
}

func (d *DAServer) count(name string) {
	v, _ := d.counters.LoadOrStore(name, new(atomic.Uint64))
	v.(*atomic.Uint64).Add(1)
}

// Counters returns the DA server's counters by name: requests by code,
// acks, naks by Error-Cause, and drops by reason.
func (d *DAServer) Counters() map[string]uint64 {
	m := make(map[string]uint64)
	d.counters.Range(func(k, v any) bool {
		m[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return m
}

func (d *DAServer) serveLoop() {
	defer d.wg.Done()
	buf := make([]byte, radius.MaxPacketLength)
	for {
		n, src, err := d.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		// Requests are handled inline: the management API is quick and
		// this keeps requests from one client in order.
		if reply := d.handle(buf[:n], src, time.Now()); reply != nil {
			if _, err := d.pc.WriteToUDPAddrPort(reply, src); err != nil {
				d.log.Warn("radius: DA send failed", "peer", src, slog.Any("err", err))
			}
		}
	}
}

// drop counts and logs a silently discarded request.
func (d *DAServer) drop(reason string, src netip.AddrPort) []byte {
	d.count("drop_" + reason)
	d.log.Warn("radius: DA request dropped", "peer", src, "reason", reason)
	return nil
}

// handle processes one datagram and returns the reply to send, if any
// (RFC 5176 §3, §5).
func (d *DAServer) handle(b []byte, src netip.AddrPort, now time.Time) []byte {
	secret, ok := d.clients[src.Addr().Unmap()]
	if !ok {
		return d.drop("unknown_client", src)
	}
	p, err := radius.Parse(b, secret)
	if err != nil {
		return d.drop("malformed", src)
	}
	if p.Code != radius.CodeDisconnectRequest && p.Code != radius.CodeCoARequest {
		return d.drop("unknown_code", src)
	}
	b = b[:binary.BigEndian.Uint16(b[2:4])]
	if !radius.IsAuthenticRequest(b, secret) {
		return d.drop("bad_authenticator", src)
	}
	var zero [16]byte
	present, err := verifyMessageAuthenticator(b, secret, &zero)
	if err != nil {
		return d.drop("bad_message_authenticator", src)
	}
	if !present && d.cfg.RequireMessageAuthenticator {
		return d.drop("no_message_authenticator", src)
	}
	if v, ok := p.Lookup(attrEventTimestamp); ok {
		ts, err := integer(v)
		if err != nil {
			return d.drop("malformed", src)
		}
		if dt := now.Sub(time.Unix(int64(ts), 0)); dt > d.cfg.ReplayWindow || -dt > d.cfg.ReplayWindow {
			return d.drop("stale_event_timestamp", src) // RFC 5176 §3.5
		}
	} else if d.cfg.RequireEventTimestamp {
		return d.drop("no_event_timestamp", src)
	}
	key := daKey{src: src, id: p.Identifier, auth: p.Authenticator}
	d.mu.Lock()
	c, dup := d.cache[key]
	d.mu.Unlock()
	if dup && now.Sub(c.at) <= d.cfg.ReplayWindow {
		d.count("duplicate")
		return c.reply // answered already: resend, do not act twice
	}
	d.count(p.Code.String())
	code, cause := d.act(p)
	reply, err := d.encodeReply(p, code, cause, secret)
	if err != nil {
		d.log.Error("radius: DA reply", slog.Any("err", err))
		return nil
	}
	if cause != 0 {
		d.count(fmt.Sprintf("nak_%d", cause))
		d.log.Info("radius: DA request refused", "peer", src, "code", p.Code.String(), "error_cause", cause.String())
	} else {
		d.count("ack")
	}
	d.remember(key, reply, now)
	return reply
}

func (d *DAServer) remember(k daKey, reply []byte, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.cache) > 4096 {
		for k, c := range d.cache {
			if now.Sub(c.at) > d.cfg.ReplayWindow {
				delete(d.cache, k)
			}
		}
	}
	d.cache[k] = daCached{at: now, reply: reply}
}

// identity is what a request names the session by (RFC 5176 §3).
type identity struct {
	user, sid, portID, calling string
	ip                         netip.Addr
	n                          int
}

// act performs the request and returns the reply code and Error-Cause (0
// on ACK).
func (d *DAServer) act(p *radius.Packet) (radius.Code, ErrorCause) {
	ack, nak := radius.CodeDisconnectACK, radius.CodeDisconnectNAK
	if p.Code == radius.CodeCoARequest {
		ack, nak = radius.CodeCoAACK, radius.CodeCoANAK
	}
	id, seen, cause := d.classify(p)
	if cause != 0 {
		return nak, cause
	}
	var change session.Change
	if p.Code == radius.CodeCoARequest {
		if seen == 0 {
			return nak, CauseInvalidRequest
		}
		// Every attribute is interpreted before anything is applied, so
		// a bad value NAKs the whole request and nothing is half-applied.
		r := &aaa.Reply{}
		bad := false
		d.in.apply(p.Attributes, r, func(rule string, v []byte, err error) {
			d.log.Warn("radius: CoA attribute value rejected", "attr", rule, "value", fmt.Sprintf("%q", v), slog.Any("err", err))
			bad = true
		})
		if bad {
			return nak, CauseInvalidAttrValue
		}
		if seen&seenRates != 0 {
			change.Rates = &r.Rates
		}
		if seen&seenSessionTimeout != 0 {
			change.SessionTimeout = &r.SessionTimeout
		}
		if seen&seenIdleTimeout != 0 {
			change.IdleTimeout = &r.IdleTimeout
		}
		if seen&seenInterim != 0 {
			change.InterimInterval = &r.InterimInterval
		}
		if seen&seenFilterID != 0 {
			change.FilterID = &r.FilterID
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sels, err := d.selectors(ctx, &id)
	if err != nil {
		return nak, CauseResourcesUnavailable
	}
	total := 0
	for _, sel := range sels {
		var n int
		if p.Code == radius.CodeCoARequest {
			n, err = d.api.Change(ctx, sel, change, "coa")
		} else {
			n, err = d.api.Terminate(ctx, sel, false)
		}
		if err != nil && !errors.Is(err, mgmt.ErrNotFound) {
			d.log.Error("radius: DA request failed", "code", p.Code.String(), "selector", sel.Value, slog.Any("err", err))
			return nak, CauseResourcesUnavailable
		}
		total += n
	}
	if total == 0 {
		return nak, CauseSessionNotFound
	}
	d.log.Info("radius: DA request applied", "code", p.Code.String(), "sessions", total, "change", changeString(change))
	return ack, 0
}

// What a CoA-Request carries besides the session identity (classify).
const (
	seenRates = 1 << iota
	seenSessionTimeout
	seenIdleTimeout
	seenInterim
	seenFilterID
)

// changeString is a change in one line for logs (and tests).
func changeString(c session.Change) string {
	var b strings.Builder
	if c.Rates != nil {
		fmt.Fprintf(&b, " rates=%s", c.Rates)
	}
	if c.SessionTimeout != nil {
		fmt.Fprintf(&b, " session-timeout=%s", c.SessionTimeout)
	}
	if c.IdleTimeout != nil {
		fmt.Fprintf(&b, " idle-timeout=%s", c.IdleTimeout)
	}
	if c.InterimInterval != nil {
		fmt.Fprintf(&b, " interim=%s", c.InterimInterval)
	}
	if c.FilterID != nil {
		fmt.Fprintf(&b, " filter-id=%q", *c.FilterID)
	}
	return strings.TrimPrefix(b.String(), " ")
}

// classify walks the request's attributes (RFC 5176 §3): it collects the
// session identity, checks the NAS identity, and reports which changes a
// CoA-Request carries (seen* bits), or the Error-Cause for an attribute we
// cannot honour.
func (d *DAServer) classify(p *radius.Packet) (id identity, seen int, cause ErrorCause) {
	for _, avp := range p.Attributes {
		v := avp.Attribute
		switch avp.Type {
		case attrUserName:
			id.user, id.n = string(v), id.n+1
		case attrAcctSessionID:
			id.sid, id.n = string(v), id.n+1
		case attrNASPortID:
			id.portID, id.n = string(v), id.n+1
		case attrCallingStationID:
			id.calling, id.n = string(v), id.n+1
		case attrFramedIPAddress:
			a, err := ipv4(v)
			if err != nil {
				return id, 0, CauseInvalidAttrValue
			}
			id.ip, id.n = a, id.n+1
		case attrNASIdentifier, attrNASIPAddress:
			if !d.nasMatches(avp) {
				return id, 0, CauseNASIdentMismatch
			}
		case attrServiceType:
			return id, 0, CauseUnsupportedService // Authorize-Only needs a re-auth we do not do
		case attrEventTimestamp, attrMessageAuthenticator, attrProxyState, attrState,
			attrAcctTerminateCause, attrNASPort, attrCalledStationID, attrReplyMessage:
		default:
			if p.Code != radius.CodeCoARequest {
				return id, 0, CauseUnsupportedAttribute
			}
			switch {
			case d.isRateAttr(avp):
				seen |= seenRates
				if avp.Type == attrFilterID {
					seen |= seenFilterID
				}
			case avp.Type == attrSessionTimeout:
				seen |= seenSessionTimeout
			case avp.Type == attrIdleTimeout:
				seen |= seenIdleTimeout
			case avp.Type == attrAcctInterimInterval:
				seen |= seenInterim
			case avp.Type == attrFilterID:
				seen |= seenFilterID
			default:
				return id, 0, CauseUnsupportedAttribute
			}
		}
	}
	if id.n == 0 {
		return id, 0, CauseMissingAttribute
	}
	return id, seen, 0
}

// nasMatches checks NAS-Identifier / NAS-IP-Address against ours (RFC 5176
// §3: 403 NAS-Identification-Mismatch).
func (d *DAServer) nasMatches(avp *radius.AVP) bool {
	if avp.Type == attrNASIdentifier {
		return d.cfg.NASIdentifier == "" || string(avp.Attribute) == d.cfg.NASIdentifier
	}
	a, err := ipv4(avp.Attribute)
	return err == nil && (!d.cfg.NASIPAddress.IsValid() || a == d.cfg.NASIPAddress)
}

// isRateAttr reports whether avp is one the interpreter reads as a rate.
func (d *DAServer) isRateAttr(avp *radius.AVP) bool {
	if avp.Type == attrFilterID {
		_, err := rate.Parse(string(avp.Attribute))
		return (d.in.filterIDDownUp || d.in.filterIDUpDown) && err == nil
	}
	for _, def := range []*AttrDef{d.in.up, d.in.down} {
		if def == nil {
			continue
		}
		if def.Vendor == 0 && avp.Type == radius.Type(def.Type) {
			return true
		}
		if def.Vendor != 0 && avp.Type == attrVendorSpecific {
			if _, ok := vsaIn(avp.Attribute, def.Vendor, def.Type); ok {
				return true
			}
		}
	}
	if avp.Type != attrVendorSpecific {
		return false
	}
	for _, r := range []struct {
		v uint32
		t byte
	}{{VendorRoaringPenguin, 1}, {VendorRoaringPenguin, 2}, {VendorMikrotik, 8}} {
		if _, ok := vsaIn(avp.Attribute, r.v, r.t); ok {
			return true
		}
	}
	return false
}

// selectors maps the identity to management selectors. A single
// Acct-Session-Id, User-Name or Framed-IP-Address maps directly; otherwise
// every given attribute must match (RFC 5176 §3) and sessions are listed.
func (d *DAServer) selectors(ctx context.Context, id *identity) ([]mgmt.Selector, error) {
	if id.n == 1 {
		switch {
		case id.sid != "":
			return []mgmt.Selector{{Kind: mgmt.BySID, Value: id.sid}}, nil
		case id.user != "":
			return []mgmt.Selector{{Kind: mgmt.ByUser, Value: id.user}}, nil
		case id.ip.IsValid():
			return []mgmt.Selector{{Kind: mgmt.ByIP, Value: id.ip.String()}}, nil
		}
	}
	list, err := d.api.Sessions(ctx)
	if err != nil {
		return nil, err
	}
	var out []mgmt.Selector
	for i := range list {
		if id.matches(&list[i]) {
			out = append(out, mgmt.Selector{Kind: mgmt.BySID, Value: list[i].ID})
		}
	}
	return out, nil
}

func (id *identity) matches(in *session.Info) bool {
	return (id.sid == "" || strings.EqualFold(id.sid, in.ID)) &&
		(id.user == "" || id.user == in.User) &&
		(!id.ip.IsValid() || id.ip == in.IP) &&
		(id.portID == "" || id.portID == in.Port) &&
		(id.calling == "" || strings.EqualFold(id.calling, in.CallingSID))
}

// encodeReply builds an ACK/NAK: Error-Cause on NAK, Proxy-State echoed
// (RFC 5176 §3.5, RFC 2865 §5.33), Message-Authenticator always, then the
// Response Authenticator over the request's authenticator.
func (d *DAServer) encodeReply(req *radius.Packet, code radius.Code, cause ErrorCause, secret []byte) ([]byte, error) {
	r := &radius.Packet{Code: code, Identifier: req.Identifier, Authenticator: req.Authenticator}
	r.Add(attrMessageAuthenticator, make(radius.Attribute, 16))
	if cause != 0 {
		r.Add(attrErrorCause, radius.NewInteger(uint32(cause)))
	}
	for _, avp := range req.Attributes {
		if avp.Type == attrProxyState {
			r.Add(attrProxyState, avp.Attribute)
		}
	}
	b, err := r.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if err := signMessageAuthenticator(b, secret, &req.Authenticator); err != nil {
		return nil, err
	}
	responseAuthenticator(b, secret, &req.Authenticator)
	return b, nil
}
