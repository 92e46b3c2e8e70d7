package io.nowconnect.config;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.hamcrest.MatcherAssert.assertThat;
import static org.hamcrest.Matchers.is;

@Timeout(60)
class CidrTest {
    private static Cidr cidr(String text) {
        return Cidr.parse(text).orElseThrow(() -> new AssertionError("not parsed: " + text));
    }

    /** An IPv4-mapped IPv6 address kept as IPv6 (the JDK turns mapped literals into IPv4 addresses otherwise). */
    private static InetAddress mapped(int a, int b, int c, int d) throws Exception {
        byte[] bytes = new byte[16];
        bytes[10] = (byte) 0xFF;
        bytes[11] = (byte) 0xFF;
        bytes[12] = (byte) a;
        bytes[13] = (byte) b;
        bytes[14] = (byte) c;
        bytes[15] = (byte) d;
        return Inet6Address.getByAddress(null, bytes, -1);
    }

    @Test
    void ipv4RangeMatchesIpv4AndMappedClients() throws Exception {
        Cidr loopback = cidr("127.0.0.0/8");
        assertThat(mapped(127, 0, 0, 1) instanceof Inet6Address, is(true));
        assertThat(loopback.contains(InetAddress.getByName("127.0.0.1")), is(true));
        assertThat(loopback.contains(mapped(127, 0, 0, 1)), is(true));
        assertThat(loopback.contains(mapped(10, 0, 0, 1)), is(false));
        assertThat(loopback.contains(InetAddress.getByName("::1")), is(false));
    }

    @Test
    void ipv6RangeMatchesOnlyIpv6Clients() throws Exception {
        Cidr v6 = cidr("::1/128");
        assertThat(v6.contains(InetAddress.getByName("::1")), is(true));
        assertThat(v6.contains(InetAddress.getByName("127.0.0.1")), is(false));
        assertThat(cidr("fd00::/8").contains(InetAddress.getByName("fd12::5")), is(true));
        assertThat(cidr("fd00::/8").contains(InetAddress.getByName("fe80::1")), is(false));
    }

    @Test
    void mappedRangeIsTheIpv4RangeItMaps() throws Exception {
        assertThat(cidr("::ffff:10.0.0.0/104"), is(cidr("10.0.0.0/8")));
        assertThat(cidr("::ffff:127.0.0.1"), is(cidr("127.0.0.1/32")));
        assertThat(cidr("::ffff:10.0.0.0/104").contains(mapped(10, 1, 2, 3)), is(true));
        assertThat(cidr("::ffff:10.0.0.0/104").contains(InetAddress.getByName("10.1.2.3")), is(true));
        assertThat("a mapped prefix under 96 bits", Cidr.parse("::ffff:10.0.0.0/64"), is(Optional.empty()));
        assertThat(Cidr.parse("::ffff:10.0.0.0/129"), is(Optional.empty()));
    }

    @Test
    void invalidRangesAreRefused() {
        for (String bad : new String[] {"", "10.0.0.0/33", "::1/129", "10.0.0/8", "example.com", "10.0.0.0/x", "1.2.3.4/-1"}) {
            assertThat(bad, Cidr.parse(bad), is(Optional.empty()));
        }
    }
}
