package io.selectloop;

import static io.selectloop.ProxyHeaderParserTest.ascii;
import static io.selectloop.ProxyHeaderParserTest.concat;
import static io.selectloop.ProxyHeaderParserTest.tlv;
import static io.selectloop.ProxyHeaderParserTest.v2;
import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.connect;
import static io.selectloop.TestSupport.eventually;
import static io.selectloop.TestSupport.readFully;
import static io.selectloop.TestSupport.readToEnd;
import static io.selectloop.TestSupport.writeFully;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** PROXY protocol on accepted connections, on real sockets: what the handler sees, and when. */
class ProxyProtocolTest {
    private EventLoop loop;

    @BeforeEach
    void start() {
        loop = EventLoop.start("proxy-test");
    }

    @AfterEach
    void stop() {
        loop.close();
    }

    /** Records what the application's handler saw, and echoes. */
    static class Recorder implements Handler {
        final CompletableFuture<Connection> opened = new CompletableFuture<>();
        volatile SocketAddress remoteAtOpen;
        volatile SocketAddress localAtOpen;
        volatile ProxyHeader headerAtOpen;
        final List<byte[]> reads = new CopyOnWriteArrayList<>();
        final CompletableFuture<Throwable> closed = new CompletableFuture<>();
        volatile boolean openedBeforeData = true;

        @Override
        public void onOpen(Connection c) {
            remoteAtOpen = c.remoteAddress();
            localAtOpen = c.localAddress();
            headerAtOpen = c.proxyHeader();
            opened.complete(c);
        }

        @Override
        public void onData(Connection c, ByteBuffer data) {
            openedBeforeData &= opened.isDone();
            byte[] bytes = new byte[data.remaining()];
            data.duplicate().get(bytes);
            reads.add(bytes);
            c.write(data);
        }

        @Override
        public void onClose(Connection c, Throwable cause) {
            closed.complete(cause == null ? new NoCause() : cause);
        }
    }

    static final class NoCause extends Exception {
    }

    private StreamServer serve(ProxyProtocol mode, Duration timeout, List<Recorder> handlers) throws Exception {
        StreamOptions options = StreamOptions.builder().proxyProtocol(mode).proxyHeaderTimeout(timeout).build();
        return StreamServer.bind(loop, anyLoopbackPort(), options, () -> {
            Recorder r = new Recorder();
            handlers.add(r);
            return r;
        });
    }

    @Test
    void aV1HeaderSetsTheAddressesBeforeOnOpenAndTheBytesAfterItArriveUntouchedInTheSameRead() throws Exception {
        List<Recorder> handlers = new CopyOnWriteArrayList<>();
        StreamServer server = serve(ProxyProtocol.REQUIRED, Duration.ofSeconds(30), handlers);
        byte[] payload = ascii("hello\r\nPROXY TCP4 9.9.9.9 9.9.9.9 9 9\r\n"); // header-like bytes after it stay data
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap(concat(ascii("PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\n"), payload)));
            assertArrayEquals(payload, readFully(ch, payload.length));
            Recorder r = handlers.get(0);
            assertEquals(new InetSocketAddress("203.0.113.7", 51234), r.remoteAtOpen);
            assertEquals(new InetSocketAddress("198.51.100.1", 443), r.localAtOpen);
            assertEquals(1, r.headerAtOpen.version());
            assertArrayEquals(payload, r.reads.get(0), "one write, one read: the rest of the header's read");
            assertTrue(r.openedBeforeData);
            Connection c = r.opened.get();
            assertEquals(new InetSocketAddress("203.0.113.7", 51234), c.remoteAddress());
        }
    }

    @Test
    void aV2HeaderOverIpv6CarriesItsAddressesAndTlvsToTheHandler() throws Exception {
        List<Recorder> handlers = new CopyOnWriteArrayList<>();
        StreamServer server = serve(ProxyProtocol.OPTIONAL, Duration.ofSeconds(30), handlers);
        byte[] body = concat(InetAddress.getByName("2001:db8::42").getAddress(), InetAddress.getByName("2001:db8::1").getAddress(),
                new byte[] {(byte) 0xC3, 0x50, 0x01, (byte) 0xBB},
                tlv(ProxyHeader.TLV_AUTHORITY, ascii("example.com")), tlv(ProxyHeader.TLV_UNIQUE_ID, ascii("id-1")));
        byte[] payload = new byte[3000];
        new java.util.Random(3).nextBytes(payload);
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap(concat(v2(0x21, 0x21, body), payload)));
            assertArrayEquals(payload, readFully(ch, payload.length));
            Recorder r = handlers.get(0);
            assertEquals(new InetSocketAddress(InetAddress.getByName("2001:db8::42"), 50000), r.remoteAtOpen);
            assertEquals(new InetSocketAddress(InetAddress.getByName("2001:db8::1"), 443), r.localAtOpen);
            assertArrayEquals(ascii("example.com"), r.headerAtOpen.tlv(ProxyHeader.TLV_AUTHORITY));
            assertArrayEquals(ascii("id-1"), r.headerAtOpen.tlv(ProxyHeader.TLV_UNIQUE_ID));
        }
    }

    @Test
    void aHeaderArrivingByteByByteIsStillParsedAndWhatFollowsIsDelivered() throws Exception {
        List<Recorder> handlers = new CopyOnWriteArrayList<>();
        StreamServer server = serve(ProxyProtocol.REQUIRED, Duration.ofSeconds(30), handlers);
        byte[] header = v2(0x21, 0x11, concat(ProxyHeaderParserTest.inet4Body("192.0.2.1", "192.0.2.2", 1000, 2000),
                tlv(ProxyHeader.TLV_ALPN, ascii("http/1.1"))));
        try (SocketChannel ch = connect(server.localAddress())) {
            for (byte b : header) {
                writeFully(ch, ByteBuffer.wrap(new byte[] {b}));
            }
            writeFully(ch, ByteBuffer.wrap(ascii("data")));
            assertArrayEquals(ascii("data"), readFully(ch, 4));
            assertEquals(new InetSocketAddress("192.0.2.1", 1000), handlers.get(0).remoteAtOpen);
        }
        eventually().until(() -> loop.memoryBudget().used() == 0); // the partial header was given back
    }

    @Test
    void unknownAndLocalHeadersKeepTheSocketsOwnAddresses() throws Exception {
        List<Recorder> handlers = new CopyOnWriteArrayList<>();
        StreamServer server = serve(ProxyProtocol.REQUIRED, Duration.ofSeconds(30), handlers);
        byte[][] headers = {ascii("PROXY UNKNOWN\r\n"), v2(0x20, 0x00, new byte[0])};
        for (int i = 0; i < headers.length; i++) {
            try (SocketChannel ch = connect(server.localAddress())) {
                writeFully(ch, ByteBuffer.wrap(concat(headers[i], ascii("x"))));
                assertArrayEquals(ascii("x"), readFully(ch, 1));
                Recorder r = handlers.get(i);
                assertEquals(ch.getLocalAddress(), r.remoteAtOpen);
                assertEquals(ch.getRemoteAddress(), r.localAtOpen);
                assertFalse(r.headerAtOpen.hasAddresses());
            }
        }
    }

    @Test
    void aMalformedHeaderClosesThatConnectionWithAClearCauseAndTheOthersCarryOn() throws Exception {
        List<Recorder> handlers = new CopyOnWriteArrayList<>();
        StreamServer server = serve(ProxyProtocol.REQUIRED, Duration.ofSeconds(30), handlers);
        try (SocketChannel good = connect(server.localAddress())) {
            writeFully(good, ByteBuffer.wrap(ascii("PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\nfirst")));
            assertArrayEquals(ascii("first"), readFully(good, 5));
            String[] bad = {"PROXY TCP4 1.1.1.1 2.2.2.2 1 99999\r\nsecret", "GET / HTTP/1.0\r\n\r\n"};
            for (String input : bad) {
                try (SocketChannel ch = connect(server.localAddress())) {
                    writeFully(ch, ByteBuffer.wrap(ascii(input)));
                    ch.shutdownOutput();
                    assertEquals(0, readToEnd(ch).length, "nothing echoed, nothing delivered");
                }
            }
            eventually().until(() -> handlers.size() == 3 && handlers.get(1).closed.isDone() && handlers.get(2).closed.isDone());
            Throwable port = handlers.get(1).closed.get();
            assertInstanceOf(ProxyProtocolException.class, port);
            assertTrue(port.getMessage().contains("'99999' is not a port"), port.getMessage());
            Throwable missing = handlers.get(2).closed.get();
            assertTrue(missing.getMessage().startsWith("PROXY protocol header required"), missing.getMessage());
            for (Recorder r : handlers.subList(1, 3)) {
                assertFalse(r.opened.isDone(), "onOpen is never called for a connection whose header failed");
                assertTrue(r.reads.isEmpty());
            }
            writeFully(good, ByteBuffer.wrap(ascii("second")));
            assertArrayEquals(ascii("second"), readFully(good, 6));
            // Counted as bad headers, not as peers that simply went away.
            eventually().until(() -> server.metrics().closed(CloseCause.PROXY_HEADER) == 2);
            assertEquals(0, server.metrics().closed(CloseCause.PEER), server.metrics().toString());
        }
    }

    @Test
    void aHeaderNotCompleteWithinTheTimeoutClosesTheConnectionAndGivesItsBytesBack() throws Exception {
        List<Recorder> handlers = new CopyOnWriteArrayList<>();
        StreamServer server = serve(ProxyProtocol.REQUIRED, Duration.ofMillis(300), handlers);
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap(ascii("PROXY TCP4 1.1.1.1 ")));
            eventually().until(() -> loop.memoryBudget().used() == 19); // held and charged while it waits
            assertEquals(0, readToEnd(ch).length);
            Throwable cause = handlers.get(0).closed.get(30, TimeUnit.SECONDS);
            assertInstanceOf(ProxyProtocolException.class, cause);
            assertEquals("PROXY protocol header not complete within 300 ms (19 bytes received)", cause.getMessage());
            assertFalse(handlers.get(0).opened.isDone());
        }
        eventually().until(() -> loop.memoryBudget().used() == 0 && server.connectionCount() == 0);
    }

    @Test
    void endOfInputInsideTheHeaderClosesWithACause() throws Exception {
        List<Recorder> handlers = new CopyOnWriteArrayList<>();
        StreamServer server = serve(ProxyProtocol.REQUIRED, Duration.ofSeconds(30), handlers);
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap(new byte[] {0x0D, 0x0A, 0x0D}));
            ch.shutdownOutput();
            assertEquals(0, readToEnd(ch).length);
        }
        Throwable cause = handlers.get(0).closed.get(30, TimeUnit.SECONDS);
        assertEquals("connection ended inside the PROXY protocol header (3 bytes received)", cause.getMessage());
    }

    @Test
    void optionalPassesHeaderlessBytesThroughAndOpensASilentPeerAtTheTimeout() throws Exception {
        List<Recorder> handlers = new CopyOnWriteArrayList<>();
        StreamOptions options = StreamOptions.builder().proxyProtocol(ProxyProtocol.OPTIONAL)
                .proxyHeaderTimeout(Duration.ofMillis(200)).build();
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), options, () -> {
            Recorder r = new Recorder() {
                @Override
                public void onOpen(Connection c) {
                    super.onOpen(c);
                    c.write(ascii("hi\n")); // a protocol where the server speaks first
                }
            };
            handlers.add(r);
            return r;
        });
        try (SocketChannel plain = connect(server.localAddress())) {
            writeFully(plain, ByteBuffer.wrap(ascii("PROXIED? no")));
            assertArrayEquals(ascii("hi\nPROXIED? no"), readFully(plain, 14));
            assertNull(handlers.get(0).headerAtOpen);
            assertEquals(plain.getLocalAddress(), handlers.get(0).remoteAtOpen);
        }
        try (SocketChannel silent = connect(server.localAddress())) {
            assertArrayEquals(ascii("hi\n"), readFully(silent, 3), "opened without a header when nothing came");
        }
    }

    @Test
    void theApplicationsOnOpenFailingAfterTheHeaderClosesWithThatCause() throws Exception {
        StreamOptions options = StreamOptions.builder().proxyProtocol(ProxyProtocol.REQUIRED).build();
        CompletableFuture<Throwable> closed = new CompletableFuture<>();
        IllegalStateException boom = new IllegalStateException("boom");
        StreamServer server = StreamServer.bind(loop, anyLoopbackPort(), options, () -> new Handler() {
            @Override
            public void onOpen(Connection c) {
                throw boom;
            }

            @Override
            public void onData(Connection c, ByteBuffer data) {
                throw new AssertionError("no data after a failed onOpen");
            }

            @Override
            public void onClose(Connection c, Throwable cause) {
                closed.complete(cause);
            }
        });
        try (SocketChannel ch = connect(server.localAddress())) {
            writeFully(ch, ByteBuffer.wrap(ascii("PROXY UNKNOWN\r\nabc")));
            assertEquals(boom, closed.get(30, TimeUnit.SECONDS));
        }
    }

    static byte[] bytes(ByteArrayOutputStream out) {
        return out.toByteArray();
    }
}
