package pppoe

// A DropReason says why Handle discarded (or refused) a frame.
type DropReason int

// Drop reasons. Their String values are the keys of Server.Drops.
const (
	DropMalformed         DropReason = iota // bad Ethernet/PPPoE framing or RFC 2516 §5 rules
	DropNotForUs                            // wrong destination MAC
	DropUnexpectedCode                      // PADO/PADS/session code on the AC side
	DropRateLimitedMAC                      // per-MAC PADI token bucket empty
	DropRateLimitedGlobal                   // global PADI token bucket empty
	DropBadCookie                           // PADR without a valid AC-Cookie
	DropExpiredCookie                       // PADR with a genuine but stale AC-Cookie
	DropUnknownService                      // Service-Name not served (PADR: Service-Name-Error sent)
	DropVLANNotServed                       // port/VLAN policy
	DropSessionLimit                        // MaxSessions reached (PADR: AC-System-Error sent)
	DropMACLimit                            // MaxPerMAC reached (PADR: AC-System-Error sent)
	DropNoSessionID                         // no free session ID on the port (AC-System-Error sent)
	DropUnknownSession                      // PADT for no session of that peer
	DropDuplicatePADT                       // PADT for a session already reported terminated
	DropReplyTooBig                         // the reply would not fit in a 1500-byte payload
	numDropReasons
)

var dropNames = [numDropReasons]string{
	DropMalformed:         "malformed",
	DropNotForUs:          "not-for-us",
	DropUnexpectedCode:    "unexpected-code",
	DropRateLimitedMAC:    "rate-limited-mac",
	DropRateLimitedGlobal: "rate-limited-global",
	DropBadCookie:         "bad-cookie",
	DropExpiredCookie:     "expired-cookie",
	DropUnknownService:    "unknown-service",
	DropVLANNotServed:     "vlan-not-served",
	DropSessionLimit:      "session-limit",
	DropMACLimit:          "mac-limit",
	DropNoSessionID:       "no-session-id",
	DropUnknownSession:    "unknown-session",
	DropDuplicatePADT:     "duplicate-padt",
	DropReplyTooBig:       "reply-too-big",
}

func (r DropReason) String() string {
	if r >= 0 && r < numDropReasons {
		return dropNames[r]
	}
	return "unknown"
}
