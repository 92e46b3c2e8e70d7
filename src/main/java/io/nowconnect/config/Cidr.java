package io.nowconnect.config;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;

/**
 * An IPv4 or IPv6 address range such as {@code 10.0.0.0/8} or {@code ::1/128}; a bare address is a single host. An
 * IPv4-mapped IPv6 range ({@code ::ffff:10.0.0.0/104}) is the IPv4 range it maps ({@code 10.0.0.0/8}), and an IPv4
 * range also matches clients whose address is IPv4-mapped IPv6.
 *
 * @param network network address bytes (4 or 16)
 * @param prefix prefix length in bits
 */
public record Cidr(byte[] network, int prefix) {
    /**
     * Parse a CIDR range. Only IP literals are accepted; no name is ever resolved.
     *
     * @param text e.g. {@code 192.168.0.0/16}
     * @return the range, empty when the text is not a valid range
     */
    public static Optional<Cidr> parse(String text) {
        String s = text.strip();
        int slash = s.indexOf('/');
        String addr = slash < 0 ? s : s.substring(0, slash);
        if (addr.startsWith("[") && addr.endsWith("]")) {
            addr = addr.substring(1, addr.length() - 1);
        }
        if (!addr.matches("[0-9.]+") && !addr.matches("[0-9A-Fa-f:.]+")) {
            return Optional.empty();
        }
        if (addr.matches("[0-9.]+") && !addr.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
            return Optional.empty();
        }
        byte[] bytes;
        try {
            bytes = InetAddress.getByName(addr).getAddress();
        } catch (UnknownHostException e) {
            return Optional.empty();
        }
        // the JDK turns an IPv4-mapped literal (::ffff:10.0.0.0) into its IPv4 address: its prefix counts 96 bits more
        int mappedBits = bytes.length == 4 && addr.contains(":") ? 96 : 0;
        int max = bytes.length * 8 + mappedBits;
        int prefix = max;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(s.substring(slash + 1));
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
            if (prefix < mappedBits || prefix > max) {
                return Optional.empty();
            }
        }
        return Optional.of(new Cidr(bytes, prefix - mappedBits));
    }

    /**
     * Whether the address lies in this range (an IPv4-mapped IPv6 address matches its IPv4 range).
     *
     * @param address address to test
     * @return true when inside
     */
    public boolean contains(InetAddress address) {
        byte[] a = address.getAddress();
        if (a.length == 16 && network.length == 4 && isV4Mapped(a)) {
            byte[] v4 = new byte[4];
            System.arraycopy(a, 12, v4, 0, 4);
            a = v4;
        }
        if (a.length != network.length) {
            return false;
        }
        int full = prefix / 8;
        for (int i = 0; i < full; i++) {
            if (a[i] != network[i]) {
                return false;
            }
        }
        int rest = prefix % 8;
        if (rest == 0) {
            return true;
        }
        int mask = (0xFF << (8 - rest)) & 0xFF;
        return (a[full] & mask) == (network[full] & mask);
    }

    private static boolean isV4Mapped(byte[] a) {
        for (int i = 0; i < 10; i++) {
            if (a[i] != 0) {
                return false;
            }
        }
        return a[10] == (byte) 0xFF && a[11] == (byte) 0xFF;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Cidr c && c.prefix == prefix && java.util.Arrays.equals(c.network, network);
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(network) * 31 + prefix;
    }

    @Override
    public String toString() {
        try {
            return InetAddress.getByAddress(network).getHostAddress() + "/" + prefix;
        } catch (UnknownHostException e) {
            return "?/" + prefix;
        }
    }
}
