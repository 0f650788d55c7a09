package ssrf

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		addr   string
		reason string // "" allowed
	}{
		// Public unicast.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"93.184.215.14", ""},
		{"100.63.255.255", ""},  // just below CGNAT
		{"100.128.0.0", ""},     // just above CGNAT
		{"172.15.255.255", ""},  // just below 172.16/12
		{"172.32.0.0", ""},      // just above
		{"198.17.255.255", ""},  // just below benchmarking
		{"198.20.0.0", ""},      // just above
		{"223.255.255.255", ""}, // last unicast before multicast
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001:81b::200e", ""},
		{"::ffff:8.8.8.8", ""},   // IPv4-mapped public
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", ""},  // 6to4 of 8.8.8.8
		{"2001:200::1", ""},      // just above 2001::/23
		{"2001:db9::1", ""},      // just above documentation
		{"fe80::1%eth0", "link-local"},

		// Unspecified and "this network".
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"::", "unspecified"},
		// Loopback.
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:7f00:1", "loopback"},
		// Private.
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"::ffff:10.1.2.3", "private"},
		{"::ffff:192.168.0.1", "private"},
		{"fc00::1", "private (unique local)"},
		{"fd12:3456:789a::1", "private (unique local)"},
		// Link-local, cloud metadata.
		{"169.254.169.254", "link-local"},
		{"169.254.0.1", "link-local"},
		{"::ffff:169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"fec0::1", "site-local"},
		{"fd00:ec2::254", "private (unique local)"}, // AWS IMDS over IPv6
		// Carrier-grade NAT.
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.127.255.255", "carrier-grade NAT"},
		// Multicast and broadcast.
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"ff05::1:3", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved"},
		// Benchmarking, documentation, protocol assignments.
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.255", "benchmarking"},
		{"192.0.2.1", "documentation"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.9", "documentation"},
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"},
		{"192.0.0.8", "IETF protocol assignment"},
		{"192.88.99.1", "6to4 relay"},
		{"2001:2::1", "IETF protocol assignment"},           // benchmarking
		{"2001:0:4136:e378::1", "IETF protocol assignment"}, // Teredo
		// IPv4 embedded in IPv6.
		{"64:ff9b::7f00:1", "loopback (embedded in IPv6)"},
		{"64:ff9b::a9fe:a9fe", "link-local (embedded in IPv6)"},
		{"2002:7f00:1::1", "loopback (embedded in IPv6)"},
		{"2002:a00:1::", "private (embedded in IPv6)"},
		{"2002:a9fe:a9fe::1", "link-local (embedded in IPv6)"},
		{"64:ff9b:1::a00:1", "reserved"}, // local-use NAT64
		{"::127.0.0.1", "reserved"},      // IPv4-compatible (deprecated)
		{"::8.8.8.8", "reserved"},
		{"100::1", "reserved"}, // discard-only
		{"4000::1", "reserved"},
	}
	var g Guard
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tc.addr)
			err := g.Check(ip)
			if tc.reason == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrDestinationNotAllowed)
			var e *Error
			require.True(t, errors.As(err, &e))
			require.Equal(t, tc.reason, e.Reason)
			require.NoError(t, Guard{AllowPrivate: true}.Check(ip), "allowed when private networks are")
		})
	}
	require.ErrorIs(t, g.Check(netip.Addr{}), ErrDestinationNotAllowed)
}

func TestControl(t *testing.T) {
	var g Guard
	for _, addr := range []string{"127.0.0.1:80", "[::1]:443", "[::ffff:127.0.0.1]:80", "169.254.169.254:80", "0.0.0.0:8080", "[fe80::1%lo]:80"} {
		require.ErrorIs(t, g.Control("tcp", addr, nil), ErrDestinationNotAllowed, addr)
	}
	require.NoError(t, g.Control("tcp4", "8.8.8.8:443", nil))
	require.NoError(t, g.Control("tcp6", "[2606:4700:4700::1111]:443", nil))
	require.ErrorIs(t, g.Control("udp", "8.8.8.8:53", nil), ErrDestinationNotAllowed)
	require.ErrorIs(t, g.Control("tcp", "localhost:80", nil), ErrDestinationNotAllowed, "only resolved addresses reach Control")
	require.NoError(t, Guard{AllowPrivate: true}.Control("tcp", "127.0.0.1:80", nil))
}

// TestDialerRefusesLoopback dials a real listener: the guard's dialer is
// refused before connecting, whatever the spelling of the address, and the
// permissive one connects.
func TestDialerRefusesLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, host := range []string{"127.0.0.1", "localhost", "::ffff:127.0.0.1", "2130706433", "0x7f.0.0.1", "127.1"} {
		c, err := Guard{}.Dialer().DialContext(ctx, "tcp", net.JoinHostPort(host, itoa(port)))
		if err == nil {
			c.Close()
			t.Fatalf("%s: connected", host)
		}
		// Numeric spellings the resolver does not understand fail to
		// resolve; those it understands are refused by Control.
		t.Logf("%s: %v", host, err)
	}
	select {
	case <-accepted:
		t.Fatal("the guarded dialer reached the listener")
	default:
	}
	c, err := Guard{AllowPrivate: true}.Dialer().DialContext(ctx, "tcp", ln.Addr().String())
	require.NoError(t, err)
	c.Close()
	<-accepted
}

func itoa(n int) string { return strconv.Itoa(n) }
