package radius

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"layeh.com/radius"

	"github.com/bngbox/bngbox/pkg/aaa"
	"github.com/bngbox/bngbox/pkg/mgmt"
)

// A Client is a RADIUS authentication and accounting client with ordered
// failover, Message-Authenticator on every Access-Request and a durable
// accounting spool.
type Client struct {
	cfg    Config
	log    *slog.Logger
	dict   *Dictionary
	interp *Interpreter
	auth   *pool
	acct   *pool

	spool  *spool  // nil without accounting servers
	sender *sender // nil without accounting servers

	onUnacked atomic.Pointer[func(string)]

	// Counters.
	rejects, accepts, badReplies atomic.Uint64

	closeOnce sync.Once
}

var (
	_ aaa.Authenticator = (*Client)(nil)
	_ aaa.Accounter     = (*Client)(nil)
)

// New builds a Client: loads the dictionaries, resolves the servers, opens
// the spool and starts the accounting sender (which resumes spooled
// records). Close stops it.
func New(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, log: cfg.Logger, dict: NewDictionary()}
	for _, f := range cfg.Dictionaries {
		if err := c.dict.LoadFile(f); err != nil {
			return nil, err
		}
	}
	var err error
	if c.interp, err = NewInterpreter(c.dict, cfg.Rates, c.log); err != nil {
		return nil, err
	}
	c.interp.defaultInterval = cfg.InterimInterval
	if c.auth, err = newPool(&c.cfg, cfg.AuthServers, "auth", "1812"); err != nil {
		return nil, err
	}
	if c.acct, err = newPool(&c.cfg, cfg.AcctServers, "acct", "1813"); err != nil {
		return nil, err
	}
	if cfg.OnStartUnacked != nil {
		c.OnStartUnacked(cfg.OnStartUnacked)
	}
	if len(cfg.AcctServers) > 0 {
		if c.spool, err = openSpool(cfg.SpoolPath, cfg.SpoolMaxBytes); err != nil {
			return nil, err
		}
		c.spool.onHigh = func(bytes, max int64) {
			c.log.Error("radius: ACCOUNTING SPOOL ABOVE 80% FULL: accounting servers are not keeping up", "spool_bytes", bytes, "spool_max_bytes", max)
		}
		items, bad, err := c.spool.load()
		if err != nil {
			c.spool.close()
			return nil, err
		}
		if bad > 0 {
			c.log.Error("radius: accounting spool: records that do not decode were moved aside, not sent",
				"records", bad, "spool", cfg.SpoolPath, "bucket", string(spoolQuarantine))
		}
		if len(items) > 0 {
			c.log.Info("radius: resuming spooled accounting records", "records", len(items))
		}
		c.sender = newSender(c, items)
	}
	return c, nil
}

func newPool(cfg *Config, list []Server, role, port string) (*pool, error) {
	list, addrs, err := resolveServers(list, port)
	if err != nil {
		return nil, err
	}
	p := &pool{retries: cfg.Retries, dead: cfg.DeadTime}
	for i := range list {
		p.servers = append(p.servers, newServer(list[i], addrs[i], role, cfg))
	}
	return p, nil
}

// Dictionary returns the loaded dictionary.
func (c *Client) Dictionary() *Dictionary { return c.dict }

// Interpreter returns the reply interpreter (shared with the DA server).
func (c *Client) Interpreter() *Interpreter { return c.interp }

// OnStartUnacked sets the callback for sessions whose Accounting-Start no
// server acknowledged (only called when Config.KillOnUnackedStart is set).
func (c *Client) OnStartUnacked(f func(sessionID string)) { c.onUnacked.Store(&f) }

// Authenticate sends an Access-Request and interprets the answer. It
// returns *aaa.Reject on Access-Reject (and on Access-Challenge, which PPP
// cannot carry), ErrNoServer when no server answered.
func (c *Client) Authenticate(ctx context.Context, req *aaa.Request) (*aaa.Reply, error) {
	b, _, err := c.auth.do(ctx, func(s *server, id byte) ([]byte, error) {
		return c.encodeAccessRequest(req, s.secret, id)
	})
	if err != nil {
		return nil, fmt.Errorf("radius: authenticate %s: %w", req.User, err)
	}
	p, err := radius.Parse(b, nil)
	if err != nil {
		c.badReplies.Add(1)
		return nil, fmt.Errorf("radius: authenticate %s: %w", req.User, err)
	}
	switch p.Code {
	case radius.CodeAccessAccept:
		c.accepts.Add(1)
		return c.interp.Interpret(p.Attributes), nil
	case radius.CodeAccessReject, radius.CodeAccessChallenge:
		c.rejects.Add(1)
		msg := ""
		for _, v := range values(p.Attributes, 0, byte(attrReplyMessage)) {
			if msg != "" {
				msg += "\n"
			}
			msg += string(v)
		}
		return nil, &aaa.Reject{Message: msg}
	}
	c.badReplies.Add(1)
	return nil, fmt.Errorf("radius: authenticate %s: unexpected reply %v", req.User, p.Code)
}

// Account spools rec durably and returns; the sender delivers it. An error
// means the record was not stored (spool full or disk failure).
func (c *Client) Account(rec *aaa.AcctRecord) error {
	if c.spool == nil {
		return fmt.Errorf("radius: %w: no accounting servers configured", ErrNoServer)
	}
	it, err := c.newAcctItem(rec)
	if err != nil {
		return err
	}
	if err := c.spool.append(it); err != nil {
		c.log.Error("radius: ACCOUNTING RECORD NOT STORED", "acct_session_id", it.sid, "acct_type", rec.Type.String(), slog.Any("err", err))
		return err
	}
	c.sender.enqueue(it)
	return nil
}

// Servers returns every server's health for `show radius`.
func (c *Client) Servers() []mgmt.RADIUSServer {
	now := time.Now()
	var out []mgmt.RADIUSServer
	for _, p := range []*pool{c.auth, c.acct} {
		for _, s := range p.servers {
			out = append(out, s.info(now))
		}
	}
	return out
}

// Counters returns the client's counters by name (for metrics).
func (c *Client) Counters() map[string]uint64 {
	m := map[string]uint64{
		"access_accept": c.accepts.Load(), "access_reject": c.rejects.Load(), "bad_reply": c.badReplies.Load(),
	}
	for _, p := range []*pool{c.auth, c.acct} {
		for _, s := range p.servers {
			m["bad_authenticator"] += s.badAuth.Load()
			m["unexpected_reply"] += s.unexpected.Load()
			m[s.role+"_timeouts"] += s.timeouts.Load()
			m[s.role+"_requests"] += s.requests.Load()
		}
	}
	if c.spool != nil {
		st := c.spool.stats()
		m["spool_records"], m["spool_bytes"], m["spool_full"] = st.records, st.bytes, st.full
		m["acct_acked"] = c.sender.acked.Load()
	}
	return m
}

// Drain waits until every spooled record is acknowledged, or ctx ends
// (records left stay spooled). Use it at shutdown after the
// Accounting-Off record, before Close.
func (c *Client) Drain(ctx context.Context) error {
	if c.sender == nil {
		return nil
	}
	return c.sender.drain(ctx)
}

// Close stops the sender (records not yet acknowledged stay in the spool
// for the next start), closes the sockets and the spool. Close the DA server
// and stop calling Account first.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		if c.sender != nil {
			c.sender.stop()
		}
		c.auth.close()
		c.acct.close()
		if c.spool != nil {
			c.spool.close()
		}
	})
	return nil
}

// newAcctItem builds the spool item for rec.
func (c *Client) newAcctItem(rec *aaa.AcctRecord) (*acctItem, error) {
	attrs, sid, err := c.acctAttrs(rec)
	if err != nil {
		return nil, err
	}
	wire, err := marshalAttrs(attrs)
	if err != nil {
		return nil, err
	}
	return &acctItem{sid: sid, typ: rec.Type, created: time.Now(), attrs: wire}, nil
}
