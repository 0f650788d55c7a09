// Package ssrf refuses outbound connections to destinations an outside
// party must not be able to reach through coffer: loopback, private and
// link-local networks (cloud metadata at 169.254.169.254), carrier-grade
// NAT, multicast, broadcast and the other special-purpose ranges, in every
// spelling an address can take (IPv4-mapped IPv6, NAT64, 6to4).
//
// Webhook endpoint URLs are chosen by whoever can register an endpoint, and
// the sender connects wherever the URL's host resolves, so a check of the
// URL text alone is not enough: "2130706433", "0x7f.1", a DNS name that
// resolves to 10.0.0.1, or one whose answer changes between a check and the
// connection (DNS rebinding) all pass a text check. The Guard therefore
// checks the address actually being connected to, from a net.Dialer Control
// function, after resolution and for every address the dialer tries.
//
// The package is internal: webhook.Sender applies it, and applications
// choose only whether private networks are allowed
// (webhook.Sender.AllowPrivateNetworks, coffer.WebhookOptions.AllowPrivateNetworks).
package ssrf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrDestinationNotAllowed is wrapped by every refusal.
var ErrDestinationNotAllowed = errors.New("destination not allowed")

// Error is a refused connection: the address and the class of range it is
// in. Reason is safe to show (it names a class, not an address).
type Error struct {
	Addr   netip.Addr
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%v: %s is a %s address", ErrDestinationNotAllowed, e.Addr, e.Reason)
}

// Unwrap makes errors.Is(err, ErrDestinationNotAllowed) hold.
func (e *Error) Unwrap() error { return ErrDestinationNotAllowed }

// Guard decides which destinations may be connected to. The zero value
// refuses every special-purpose address and allows public unicast ones.
type Guard struct {
	// AllowPrivate turns the guard off: every destination is allowed. It
	// is for development and for deployments whose receivers live on a
	// private network by design.
	AllowPrivate bool
}

type block struct {
	prefix netip.Prefix
	reason string
}

func mustBlocks(list ...string) []block {
	out := make([]block, 0, len(list)/2)
	for i := 0; i < len(list); i += 2 {
		out = append(out, block{netip.MustParsePrefix(list[i]), list[i+1]})
	}
	return out
}

// v4Blocks are the IPv4 ranges refused (IANA IPv4 Special-Purpose Address
// Registry, plus multicast and the reserved class E with broadcast).
var v4Blocks = mustBlocks(
	"0.0.0.0/8", "unspecified",
	"10.0.0.0/8", "private",
	"100.64.0.0/10", "carrier-grade NAT",
	"127.0.0.0/8", "loopback",
	"169.254.0.0/16", "link-local",
	"172.16.0.0/12", "private",
	"192.0.0.0/24", "IETF protocol assignment",
	"192.0.2.0/24", "documentation",
	"192.88.99.0/24", "6to4 relay",
	"192.168.0.0/16", "private",
	"198.18.0.0/15", "benchmarking",
	"198.51.100.0/24", "documentation",
	"203.0.113.0/24", "documentation",
	"224.0.0.0/4", "multicast",
	"255.255.255.255/32", "broadcast",
	"240.0.0.0/4", "reserved",
)

// v6Blocks are refused IPv6 ranges inside global unicast 2000::/3 (all
// of IPv6 outside 2000::/3 is refused, see Check).
var v6Blocks = mustBlocks(
	"2001::/23", "IETF protocol assignment", // Teredo, benchmarking, ORCHID...
	"2001:db8::/32", "documentation",
	"3fff::/20", "documentation",
)

var (
	globalUnicast = netip.MustParsePrefix("2000::/3")
	nat64         = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour     = netip.MustParsePrefix("2002::/16")
	ula           = netip.MustParsePrefix("fc00::/7")
	linkLocal6    = netip.MustParsePrefix("fe80::/10")
	siteLocal6    = netip.MustParsePrefix("fec0::/10")
	multicast6    = netip.MustParsePrefix("ff00::/8")
)

// Check returns nil if the guard allows connecting to ip, or an *Error.
func (g Guard) Check(ip netip.Addr) error {
	if g.AllowPrivate {
		return nil
	}
	if reason := classify(ip); reason != "" {
		return &Error{Addr: ip, Reason: reason}
	}
	return nil
}

// classify names the special-purpose range ip is in, "" for a public
// unicast address.
func classify(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid"
	}
	ip = ip.WithZone("")
	if ip.Is4In6() { // ::ffff:a.b.c.d is a.b.c.d to the kernel
		ip = ip.Unmap()
	}
	if ip.Is4() {
		for _, b := range v4Blocks {
			if b.prefix.Contains(ip) {
				return b.reason
			}
		}
		return ""
	}
	switch {
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case nat64.Contains(ip):
		// NAT64 translates to the IPv4 address in the low 32 bits.
		b := ip.As16()
		return embedded(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	case sixToFour.Contains(ip):
		// 6to4 tunnels to the IPv4 address in bits 16..47.
		b := ip.As16()
		return embedded(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	case ula.Contains(ip):
		return "private (unique local)"
	case linkLocal6.Contains(ip):
		return "link-local"
	case siteLocal6.Contains(ip):
		return "site-local"
	case multicast6.Contains(ip):
		return "multicast"
	case !globalUnicast.Contains(ip):
		// ::/96 (IPv4-compatible), 64:ff9b:1::/48 (local NAT64), 100::/64
		// (discard) and everything IANA has not allocated.
		return "reserved"
	}
	for _, b := range v6Blocks {
		if b.prefix.Contains(ip) {
			return b.reason
		}
	}
	return ""
}

func embedded(v4 netip.Addr) string {
	if r := classify(v4); r != "" {
		return r + " (embedded in IPv6)"
	}
	return ""
}

// Control is a net.Dialer Control function: it runs after name resolution,
// for each address the dialer tries, and refuses the connection unless the
// address passes Check. Only TCP is dialled for HTTP; anything else is
// refused too.
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("%w: network %q", ErrDestinationNotAllowed, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ErrDestinationNotAllowed, address)
	}
	return g.Check(ap.Addr())
}

// Dialer returns a net.Dialer that refuses what the guard refuses, with the
// usual HTTP dial timeouts.
func (g Guard) Dialer() *net.Dialer {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if !g.AllowPrivate {
		d.Control = g.Control
	}
	return d
}
