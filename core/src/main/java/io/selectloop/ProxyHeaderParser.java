package io.selectloop;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Parses a PROXY protocol header, version 1 (text) or 2 (binary), from the bytes received
 * so far: HAProxy's {@code doc/proxy-protocol.txt}. Pure: no I/O, no state, no name
 * lookups (addresses are literals or the header is malformed), so it can be fuzzed alone.
 * Any thread.
 */
final class ProxyHeaderParser {
    /** The longest v1 header the spec allows, CRLF included. */
    static final int MAX_V1_BYTES = 107;
    /**
     * The longest v2 header accepted, TLVs included. The addresses take at most 232 bytes;
     * HAProxy's TLVs (unique id, ALPN, authority, TLS details) fit easily. A longer one is
     * refused as soon as its length field arrives, so a peer cannot make us hold 64 KiB.
     */
    static final int MAX_HEADER_BYTES = 4096;

    private static final byte[] V1_SIGNATURE = "PROXY ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    private static final int V2_FIXED_BYTES = 16;
    private static final int AF_UNSPEC = 0, AF_INET = 1, AF_INET6 = 2, AF_UNIX = 3;
    private static final int PROTO_UNSPEC = 0, PROTO_STREAM = 1, PROTO_DGRAM = 2;
    private static final int CMD_LOCAL = 0, CMD_PROXY = 1;

    /** What the bytes so far amount to. */
    static final class Result {
        /** Not enough bytes to decide. */
        static final Result NEED_MORE = new Result(null, 0);
        /** The bytes do not start with a signature: no header (optional mode only). */
        static final Result NO_HEADER = new Result(null, 0);

        final ProxyHeader header;
        /** Bytes the header takes; what follows is the application's. */
        final int length;

        private Result(ProxyHeader header, int length) {
            this.header = header;
            this.length = length;
        }

        @Override
        public String toString() {
            return this == NEED_MORE ? "NEED_MORE" : this == NO_HEADER ? "NO_HEADER" : header + " (" + length + " bytes)";
        }
    }

    private ProxyHeaderParser() {
    }

    /**
     * Looks at {@code in}'s remaining bytes (its position and limit are not changed).
     *
     * @param required true: bytes that cannot start a header are an error; false: they
     *     mean there is none ({@link Result#NO_HEADER})
     * @throws ProxyProtocolException the bytes are a malformed or oversized header, or
     *     (required) not a header at all
     */
    static Result parse(ByteBuffer in, boolean required) throws ProxyProtocolException {
        int n = in.remaining();
        if (n == 0) {
            return Result.NEED_MORE;
        }
        if (prefixMatches(in, V1_SIGNATURE)) {
            return n < V1_SIGNATURE.length ? Result.NEED_MORE : parseV1(in);
        }
        if (prefixMatches(in, V2_SIGNATURE)) {
            return n < V2_SIGNATURE.length ? Result.NEED_MORE : parseV2(in);
        }
        if (required) {
            throw new ProxyProtocolException("PROXY protocol header required, but the connection starts with "
                    + describe(in, Math.min(n, 8)));
        }
        return Result.NO_HEADER;
    }

    /** True if the remaining bytes (as many as there are, up to the signature's length) match it. */
    private static boolean prefixMatches(ByteBuffer in, byte[] signature) {
        int p = in.position();
        int count = Math.min(in.remaining(), signature.length);
        for (int i = 0; i < count; i++) {
            if (in.get(p + i) != signature[i]) {
                return false;
            }
        }
        return true;
    }

    // ------------------------------------------------------------------ version 1

    private static Result parseV1(ByteBuffer in) throws ProxyProtocolException {
        int p = in.position();
        int n = Math.min(in.remaining(), MAX_V1_BYTES);
        int end = -1;
        for (int i = V1_SIGNATURE.length; i < n; i++) {
            byte b = in.get(p + i);
            if (b == '\r') {
                if (i + 2 > MAX_V1_BYTES) {
                    throw new ProxyProtocolException("PROXY v1 header: no CRLF within " + MAX_V1_BYTES + " bytes");
                }
                if (i + 1 >= in.remaining()) {
                    return Result.NEED_MORE; // the LF may be next
                }
                if (in.get(p + i + 1) != '\n') {
                    throw new ProxyProtocolException("PROXY v1 header: CR not followed by LF");
                }
                end = i;
                break;
            }
            if (b < 0x20 || b > 0x7E) {
                throw new ProxyProtocolException("PROXY v1 header: byte 0x" + hex(b) + " at offset " + i);
            }
        }
        if (end < 0) {
            if (in.remaining() >= MAX_V1_BYTES) {
                throw new ProxyProtocolException("PROXY v1 header: no CRLF within " + MAX_V1_BYTES + " bytes");
            }
            return Result.NEED_MORE;
        }
        byte[] line = new byte[end - V1_SIGNATURE.length];
        for (int i = 0; i < line.length; i++) {
            line[i] = in.get(p + V1_SIGNATURE.length + i);
        }
        String text = new String(line, StandardCharsets.US_ASCII);
        int length = end + 2;
        if (text.equals("UNKNOWN") || text.startsWith("UNKNOWN ")) {
            // The rest of an UNKNOWN line is to be ignored: keep the socket's own addresses.
            return new Result(new ProxyHeader(1, null, null, List.of()), length);
        }
        String[] f = text.split(" ", -1);
        if (f.length != 5 || !(f[0].equals("TCP4") || f[0].equals("TCP6"))) {
            throw new ProxyProtocolException("PROXY v1 header: expected 'TCP4|TCP6 SRC DST SPORT DPORT' or 'UNKNOWN', got '"
                    + text + "'");
        }
        boolean v6 = f[0].equals("TCP6");
        InetAddress source = v6 ? ipv6(f[1]) : ipv4(f[1]);
        InetAddress destination = v6 ? ipv6(f[2]) : ipv4(f[2]);
        int sourcePort = port(f[3]);
        int destinationPort = port(f[4]);
        return new Result(new ProxyHeader(1, new InetSocketAddress(source, sourcePort),
                new InetSocketAddress(destination, destinationPort), List.of()), length);
    }

    private static InetAddress ipv4(String s) throws ProxyProtocolException {
        String[] parts = s.split("\\.", -1);
        if (parts.length != 4) {
            throw new ProxyProtocolException("PROXY v1 header: '" + s + "' is not an IPv4 address");
        }
        byte[] bytes = new byte[4];
        for (int i = 0; i < 4; i++) {
            int v = decimal(parts[i], 3);
            if (v < 0 || v > 255) {
                throw new ProxyProtocolException("PROXY v1 header: '" + s + "' is not an IPv4 address");
            }
            bytes[i] = (byte) v;
        }
        return byAddress(bytes);
    }

    private static InetAddress ipv6(String s) throws ProxyProtocolException {
        boolean colon = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            colon |= c == ':';
            if (!(c == ':' || c == '.' || Character.digit(c, 16) >= 0)) {
                colon = false;
                break;
            }
        }
        // Only a literal reaches InetAddress, in brackets, so it is never looked up by name.
        if (colon && s.length() <= 45 && (Character.digit(s.charAt(0), 16) >= 0 || s.charAt(0) == ':')) {
            try {
                return InetAddress.getByName("[" + s + "]");
            } catch (UnknownHostException | IllegalArgumentException e) {
                // fall through
            }
        }
        throw new ProxyProtocolException("PROXY v1 header: '" + s + "' is not an IPv6 address");
    }

    private static int port(String s) throws ProxyProtocolException {
        int v = decimal(s, 5);
        if (v < 0 || v > 65535) {
            throw new ProxyProtocolException("PROXY v1 header: '" + s + "' is not a port");
        }
        return v;
    }

    /** The value of 1 to maxDigits decimal digits, or -1. */
    private static int decimal(String s, int maxDigits) {
        if (s.isEmpty() || s.length() > maxDigits) {
            return -1;
        }
        int v = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            v = v * 10 + (c - '0');
        }
        return v;
    }

    // ------------------------------------------------------------------ version 2

    private static Result parseV2(ByteBuffer in) throws ProxyProtocolException {
        int p = in.position();
        int n = in.remaining();
        if (n < V2_FIXED_BYTES) {
            if (n > 12) {
                checkVersionAndCommand(in.get(p + 12));
            }
            if (n > 13) {
                checkFamily(in.get(p + 13));
            }
            return Result.NEED_MORE;
        }
        int versionCommand = in.get(p + 12) & 0xFF;
        int familyProtocol = in.get(p + 13) & 0xFF;
        checkVersionAndCommand((byte) versionCommand);
        checkFamily((byte) familyProtocol);
        int length = ((in.get(p + 14) & 0xFF) << 8) | (in.get(p + 15) & 0xFF);
        int total = V2_FIXED_BYTES + length;
        if (total > MAX_HEADER_BYTES) {
            throw new ProxyProtocolException("PROXY v2 header of " + total + " bytes; at most " + MAX_HEADER_BYTES
                    + " accepted");
        }
        if (n < total) {
            return Result.NEED_MORE;
        }
        int command = versionCommand & 0x0F;
        int family = familyProtocol >> 4;
        int protocol = familyProtocol & 0x0F;
        if (command == CMD_LOCAL || family == AF_UNSPEC) {
            // LOCAL (the balancer's own health check) or an unknown family: the spec says
            // to ignore the address block and use the connection's real addresses.
            return new Result(new ProxyHeader(2, null, null, List.of()), total);
        }
        if (protocol == PROTO_DGRAM) {
            throw new ProxyProtocolException("PROXY v2 header for a datagram flow on a stream connection");
        }
        int addressBytes = family == AF_INET ? 12 : family == AF_INET6 ? 36 : 216;
        if (length < addressBytes) {
            throw new ProxyProtocolException("PROXY v2 header: " + length + " bytes after the fixed part, "
                    + addressBytes + " needed for its address family");
        }
        int a = p + V2_FIXED_BYTES;
        InetSocketAddress source = null;
        InetSocketAddress destination = null;
        if (protocol == PROTO_STREAM && family != AF_UNIX) {
            int size = family == AF_INET ? 4 : 16;
            InetAddress src = byAddress(bytes(in, a, size));
            InetAddress dst = byAddress(bytes(in, a + size, size));
            int ports = a + 2 * size;
            source = new InetSocketAddress(src, u16(in, ports));
            destination = new InetSocketAddress(dst, u16(in, ports + 2));
        }
        // Unix-socket or unspecified-protocol addresses: the connection keeps its own.
        List<ProxyHeader.Tlv> tlvs = ProxyHeader.newTlvList();
        int t = a + addressBytes;
        int end = p + total;
        while (t < end) {
            if (end - t < 3) {
                throw new ProxyProtocolException("PROXY v2 header: " + (end - t) + " stray bytes where a TLV should start");
            }
            int type = in.get(t) & 0xFF;
            int valueLength = u16(in, t + 1);
            if (t + 3 + valueLength > end) {
                throw new ProxyProtocolException("PROXY v2 header: TLV 0x" + Integer.toHexString(type) + " of "
                        + valueLength + " bytes overruns the header");
            }
            tlvs.add(new ProxyHeader.Tlv(type, bytes(in, t + 3, valueLength)));
            t += 3 + valueLength;
        }
        return new Result(new ProxyHeader(2, source, destination, tlvs), total);
    }

    private static void checkVersionAndCommand(byte b) throws ProxyProtocolException {
        int version = (b & 0xFF) >> 4;
        int command = b & 0x0F;
        if (version != 2) {
            throw new ProxyProtocolException("PROXY v2 header: version " + version + ", expected 2");
        }
        if (command != CMD_LOCAL && command != CMD_PROXY) {
            throw new ProxyProtocolException("PROXY v2 header: unknown command " + command);
        }
    }

    private static void checkFamily(byte b) throws ProxyProtocolException {
        int family = (b & 0xFF) >> 4;
        int protocol = b & 0x0F;
        if (family > AF_UNIX || protocol > PROTO_DGRAM) {
            throw new ProxyProtocolException("PROXY v2 header: unknown address family/protocol 0x" + hex(b));
        }
    }

    private static int u16(ByteBuffer in, int at) {
        return ((in.get(at) & 0xFF) << 8) | (in.get(at + 1) & 0xFF);
    }

    private static byte[] bytes(ByteBuffer in, int at, int count) {
        byte[] b = new byte[count];
        for (int i = 0; i < count; i++) {
            b[i] = in.get(at + i);
        }
        return b;
    }

    private static InetAddress byAddress(byte[] raw) {
        try {
            return InetAddress.getByAddress(raw);
        } catch (UnknownHostException e) {
            throw new IllegalStateException("4 or 16 bytes are always an address", e);
        }
    }

    private static String hex(byte b) {
        return String.format("%02x", b & 0xFF);
    }

    private static String describe(ByteBuffer in, int count) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < count; i++) {
            sb.append(i == 0 ? "" : " ").append(hex(in.get(in.position() + i)));
        }
        return sb.append(in.remaining() > count ? " ..." : "").toString();
    }
}
