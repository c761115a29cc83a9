package telemetry

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A minimal MQTT 3.1.1 client codec for the bridge: CONNECT, CONNACK,
// PUBLISH (QoS 1), PUBACK, PINGREQ/PINGRESP, DISCONNECT. MQTT 3.1.1 §2, §3.

var (
	errWireShort  = errors.New("telemetry: mqtt: short packet")
	errWireLength = errors.New("telemetry: mqtt: bad remaining length")
)

// MQTT 3.1.1 §2.2.1 packet types (high nibble of the first byte).
const (
	pktConnect    = 1
	pktConnack    = 2
	pktPublish    = 3
	pktPuback     = 4
	pktPingreq    = 12
	pktPingresp   = 13
	pktDisconnect = 14
)

// appendRemLen appends the §2.2.3 variable-length remaining length.
func appendRemLen(b []byte, n int) []byte {
	for {
		c := byte(n % 128)
		n /= 128
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// connectPacket is §3.1 CONNECT with clean session (the bridge keeps its
// own queue and resends what was not acknowledged).
func connectPacket(clientID, user, pass string, keepalive uint16) []byte {
	flags := byte(0x02) // clean session
	vh := appendString(nil, "MQTT")
	vh = append(vh, 4) // protocol level 3.1.1
	if user != "" {
		flags |= 0x80
	}
	if pass != "" {
		flags |= 0x40
	}
	vh = append(vh, flags)
	vh = binary.BigEndian.AppendUint16(vh, keepalive)
	vh = appendString(vh, clientID)
	if user != "" {
		vh = appendString(vh, user)
	}
	if pass != "" {
		vh = appendString(vh, pass)
	}
	b := appendRemLen([]byte{pktConnect << 4}, len(vh))
	return append(b, vh...)
}

// publishPacket is §3.3 PUBLISH at QoS 1.
func publishPacket(topic string, payload []byte, retain, dup bool, id uint16) []byte {
	h := byte(pktPublish<<4 | 1<<1) // QoS 1
	if retain {
		h |= 0x01
	}
	if dup {
		h |= 0x08
	}
	n := 2 + len(topic) + 2 + len(payload)
	b := appendRemLen(append(make([]byte, 0, n+5), h), n)
	b = appendString(b, topic)
	b = binary.BigEndian.AppendUint16(b, id)
	return append(b, payload...)
}

var (
	pingreqPacket    = []byte{pktPingreq << 4, 0}
	disconnectPacket = []byte{pktDisconnect << 4, 0}
)

// readPacket reads one packet: its type nibble, flags and body.
func readPacket(r *bufio.Reader) (typ, flags byte, body []byte, err error) {
	h, err := r.ReadByte()
	if err != nil {
		return 0, 0, nil, err
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		c, err := r.ReadByte()
		if err != nil {
			return 0, 0, nil, err
		}
		n += int(c&0x7f) * mult
		if c&0x80 == 0 {
			break
		}
		if i == 3 {
			return 0, 0, nil, errWireLength
		}
		mult *= 128
	}
	body = make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, 0, nil, err
	}
	return h >> 4, h & 0x0f, body, nil
}

// connackCode parses §3.2 CONNACK and returns its return code.
func connackCode(body []byte) (byte, error) {
	if len(body) < 2 {
		return 0, fmt.Errorf("connack: %w", errWireShort)
	}
	return body[1], nil
}

// packetID parses the packet identifier of PUBACK (§3.4).
func packetID(body []byte) (uint16, error) {
	if len(body) < 2 {
		return 0, fmt.Errorf("puback: %w", errWireShort)
	}
	return binary.BigEndian.Uint16(body), nil
}
