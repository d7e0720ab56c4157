package io.selectloop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The PROXY header parser against the examples and limits of HAProxy's proxy-protocol.txt. */
class ProxyHeaderParserTest {
    static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

    static ProxyHeaderParser.Result parse(byte[] bytes, boolean required) throws ProxyProtocolException {
        return ProxyHeaderParser.parse(ByteBuffer.wrap(bytes), required);
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** A v2 header: version/command byte, family/protocol byte, then the body (addresses and TLVs). */
    static byte[] v2(int versionCommand, int familyProtocol, byte[] body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(V2_SIGNATURE);
        out.write(versionCommand);
        out.write(familyProtocol);
        out.write(body.length >> 8);
        out.write(body.length);
        out.writeBytes(body);
        return out.toByteArray();
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    static byte[] tlv(int type, byte[] value) {
        return concat(new byte[] {(byte) type, (byte) (value.length >> 8), (byte) value.length}, value);
    }

    static byte[] inet4Body(String src, String dst, int sport, int dport) throws Exception {
        return concat(InetAddress.getByName(src).getAddress(), InetAddress.getByName(dst).getAddress(),
                new byte[] {(byte) (sport >> 8), (byte) sport, (byte) (dport >> 8), (byte) dport});
    }

    @Test
    void v1Tcp4FromTheSpecIsParsedAndTheBytesAfterItAreNotPartOfIt() throws Exception {
        byte[] header = ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
        ProxyHeaderParser.Result r = parse(concat(header, ascii("GET / HTTP/1.1\r\n")), true);
        assertEquals(header.length, r.length);
        assertEquals(1, r.header.version());
        assertEquals(new InetSocketAddress("192.168.0.1", 56324), r.header.sourceAddress());
        assertEquals(new InetSocketAddress("192.168.0.11", 443), r.header.destinationAddress());
    }

    @Test
    void v1Tcp6() throws Exception {
        ProxyHeaderParser.Result r = parse(ascii("PROXY TCP6 2001:db8::1 ::1 65535 0\r\n"), true);
        assertEquals(new InetSocketAddress(InetAddress.getByName("2001:db8::1"), 65535), r.header.sourceAddress());
        assertEquals(new InetSocketAddress(InetAddress.getByName("::1"), 0), r.header.destinationAddress());
    }

    @Test
    void v1UnknownCarriesNoAddressesAndItsRestIsIgnored() throws Exception {
        for (String line : new String[] {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"}) {
            ProxyHeaderParser.Result r = parse(ascii(line), true);
            assertEquals(line.length(), r.length);
            assertFalse(r.header.hasAddresses());
            assertNull(r.header.sourceAddress());
        }
    }

    @Test
    void v1AtTheLongestAllowedLengthIsParsedAndOneByteMoreIsRefused() throws Exception {
        // The spec's worst case: "PROXY UNKNOWN " + 2 x 39-char addresses + 2 x 5-digit ports = 107 bytes.
        String worst = "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n";
        String padded = "PROXY UNKNOWN " + "x".repeat(107 - "PROXY UNKNOWN ".length() - 2) + "\r\n";
        assertEquals(107, padded.length());
        assertEquals(107, parse(ascii(padded), true).length);
        assertTrue(worst.length() < 107);
        String tooLong = "PROXY UNKNOWN " + "x".repeat(107 - "PROXY UNKNOWN ".length() - 1) + "\r\n";
        ProxyProtocolException e = assertThrows(ProxyProtocolException.class, () -> parse(ascii(tooLong), true));
        assertTrue(e.getMessage().contains("107"), e.getMessage());
        // and without waiting for the CRLF: 107 bytes without one are already too many
        assertThrows(ProxyProtocolException.class, () -> parse(ascii("PROXY UNKNOWN " + "x".repeat(93)), true));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",      // one field too many
            "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",          // one too few
            "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",       // double space
            "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",      // octet out of range
            "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",          // three octets
            "PROXY TCP4 ::1 5.6.7.8 1 2\r\n",            // IPv6 in TCP4
            "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",            // IPv4 in TCP6
            "PROXY TCP6 example.com ::1 1 2\r\n",        // a name, never looked up
            "PROXY TCP6 ::1%eth0 ::1 1 2\r\n",           // a scope
            "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",    // port out of range
            "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",       // negative port
            "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",          // LF without CR
            "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",         // CR without LF
            "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",        // not a stream protocol
            "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",        // case matters
            "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\u0000\r\n",  // a NUL
    })
    void malformedV1HeadersAreRefusedWithAClearCause(String line) {
        ProxyProtocolException e = assertThrows(ProxyProtocolException.class, () -> parse(ascii(line), true));
        assertTrue(e.getMessage().startsWith("PROXY v1 header"), e.getMessage());
    }

    @Test
    void v2ProxyOverIpv4WithTlvs() throws Exception {
        byte[] body = concat(inet4Body("10.1.2.3", "10.9.9.9", 40000, 443), tlv(ProxyHeader.TLV_ALPN, ascii("h2")),
                tlv(ProxyHeader.TLV_UNIQUE_ID, ascii("abc-123")), tlv(0xE0, new byte[0]));
        byte[] header = v2(0x21, 0x11, body);
        ProxyHeaderParser.Result r = parse(concat(header, ascii("after")), true);
        assertEquals(header.length, r.length);
        assertEquals(2, r.header.version());
        assertEquals(new InetSocketAddress("10.1.2.3", 40000), r.header.sourceAddress());
        assertEquals(new InetSocketAddress("10.9.9.9", 443), r.header.destinationAddress());
        assertEquals(3, r.header.tlvs().size());
        assertArrayEquals(ascii("h2"), r.header.tlv(ProxyHeader.TLV_ALPN));
        assertArrayEquals(ascii("abc-123"), r.header.tlv(ProxyHeader.TLV_UNIQUE_ID));
        assertArrayEquals(new byte[0], r.header.tlv(0xE0));
        assertNull(r.header.tlv(ProxyHeader.TLV_AUTHORITY));
    }

    @Test
    void v2ProxyOverIpv6() throws Exception {
        byte[] body = concat(InetAddress.getByName("2001:db8::7").getAddress(), InetAddress.getByName("::1").getAddress(),
                new byte[] {(byte) 0xFF, (byte) 0xFF, 0, 80});
        ProxyHeaderParser.Result r = parse(v2(0x21, 0x21, body), true);
        assertEquals(new InetSocketAddress(InetAddress.getByName("2001:db8::7"), 65535), r.header.sourceAddress());
        assertEquals(new InetSocketAddress(InetAddress.getByName("::1"), 80), r.header.destinationAddress());
    }

    @Test
    void v2LocalUnspecAndUnixKeepTheSocketsOwnAddresses() throws Exception {
        // LOCAL (a health check) with or without an address block, UNSPEC, and AF_UNIX.
        byte[][] headers = {v2(0x20, 0x00, new byte[0]), v2(0x20, 0x11, inet4Body("1.1.1.1", "2.2.2.2", 1, 2)),
                v2(0x21, 0x00, new byte[5]), v2(0x21, 0x31, new byte[216])};
        for (byte[] h : headers) {
            ProxyHeaderParser.Result r = parse(h, true);
            assertEquals(h.length, r.length);
            assertFalse(r.header.hasAddresses(), r.toString());
        }
    }

    @Test
    void malformedV2HeadersAreRefusedWithAClearCause() throws Exception {
        byte[] inet = inet4Body("1.1.1.1", "2.2.2.2", 1, 2);
        byte[][] bad = {
                v2(0x11, 0x11, inet),                                  // version 1 in a v2 header
                v2(0x22, 0x11, inet),                                  // command 2
                v2(0x21, 0x41, inet),                                  // family 4
                v2(0x21, 0x13, inet),                                  // protocol 3
                v2(0x21, 0x12, inet),                                  // a datagram flow
                v2(0x21, 0x11, new byte[11]),                          // IPv4 block cut short
                v2(0x21, 0x21, new byte[35]),                          // IPv6 block cut short
                v2(0x21, 0x11, concat(inet, new byte[] {1, 0})),       // 2 stray bytes
                v2(0x21, 0x11, concat(inet, new byte[] {1, 0, 5, 9})), // TLV longer than the header
        };
        for (byte[] h : bad) {
            ProxyProtocolException e = assertThrows(ProxyProtocolException.class, () -> parse(h, true));
            assertTrue(e.getMessage().startsWith("PROXY v2 header"), e.getMessage());
        }
    }

    @Test
    void anOversizedV2HeaderIsRefusedAsSoonAsItsLengthArrives() {
        byte[] start = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x10, 0x00};
        ProxyProtocolException e = assertThrows(ProxyProtocolException.class, () -> parse(start, true));
        assertTrue(e.getMessage().contains("4112 bytes"), e.getMessage());
        // The largest accepted: the IPv4 block, then 1,356 empty TLVs of type 0 (3 bytes each).
        byte[] largest = v2(0x21, 0x11, new byte[ProxyHeaderParser.MAX_HEADER_BYTES - 16]);
        assertEquals(ProxyHeaderParser.MAX_HEADER_BYTES, assertDoesNotThrow(() -> parse(largest, true)).length);
        byte[] oneMore = v2(0x21, 0x11, new byte[ProxyHeaderParser.MAX_HEADER_BYTES - 15]);
        assertThrows(ProxyProtocolException.class, () -> parse(oneMore, true));
    }

    @Test
    void everyProperPrefixOfAValidHeaderAsksForMore() throws Exception {
        byte[][] headers = {ascii("PROXY TCP6 2001:db8::1 ::1 65535 0\r\n"),
                v2(0x21, 0x11, concat(inet4Body("1.1.1.1", "2.2.2.2", 1, 2), tlv(1, ascii("h2"))))};
        for (byte[] h : headers) {
            for (int n = 0; n < h.length; n++) {
                for (boolean required : new boolean[] {true, false}) {
                    assertSame(ProxyHeaderParser.Result.NEED_MORE, parse(java.util.Arrays.copyOf(h, n), required),
                            "prefix of " + n);
                }
            }
            assertEquals(h.length, parse(h, false).length);
        }
    }

    @Test
    void withoutASignatureOptionalMeansNoHeaderAndRequiredFails() throws Exception {
        for (String start : new String[] {"GET / HTTP/1.1\r\n", "P", "PROXX", "\r\n\r\n\u0000\r\nQUIX"}) {
            if (start.equals("P")) {
                assertSame(ProxyHeaderParser.Result.NEED_MORE, parse(ascii(start), false));
                continue;
            }
            assertSame(ProxyHeaderParser.Result.NO_HEADER, parse(ascii(start), false), start);
            ProxyProtocolException e = assertThrows(ProxyProtocolException.class, () -> parse(ascii(start), true));
            assertTrue(e.getMessage().startsWith("PROXY protocol header required"), e.getMessage());
        }
    }

    @Test
    void theInputBufferIsLeftAsItWas() throws Exception {
        ByteBuffer in = ByteBuffer.wrap(ascii("xxPROXY UNKNOWN\r\nrest")).position(2);
        ProxyHeaderParser.Result r = ProxyHeaderParser.parse(in, true);
        assertEquals(15, r.length);
        assertEquals(2, in.position());
        assertEquals(in.capacity(), in.limit());
    }
}
