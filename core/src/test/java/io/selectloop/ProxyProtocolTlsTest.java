package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.eventually;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * PROXY protocol on a TLS server, as HAProxy sends it when it passes TLS through
 * ({@code send-proxy-v2} in TCP mode): the header comes first in the clear, then the TLS
 * records. The header is read below the engine; the handler sees plaintext and the
 * header's addresses from {@code onOpen} on.
 */
class ProxyProtocolTlsTest {
    private final TestCerts certs = TestCerts.get();
    private EventLoop loop;
    private StreamServer server;
    private final List<ProxyProtocolTest.Recorder> handlers = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws IOException {
        loop = EventLoop.start("proxy-tls-test");
        server = StreamServer.bind(loop, anyLoopbackPort(), StreamOptions.builder()
                .tls(TlsOptions.server(certs.serverContext()).build())
                .proxyProtocol(ProxyProtocol.REQUIRED).proxyHeaderTimeout(Duration.ofSeconds(30)).build(), () -> {
                    ProxyProtocolTest.Recorder r = new ProxyProtocolTest.Recorder();
                    handlers.add(r);
                    return r;
                });
    }

    @AfterEach
    void stop() {
        loop.close();
    }

    /** The header and the ClientHello in one write, as HAProxy sends them: both arrive in one read. */
    @Test
    void aHeaderThenATlsHandshakeGivesTheHandlerTheHeadersAddressAndPlaintext() throws Exception {
        InetSocketAddress address = (InetSocketAddress) server.localAddress();
        try (Socket raw = new Socket(address.getAddress(), address.getPort())) {
            raw.getOutputStream().write("PROXY TCP4 203.0.113.7 192.0.2.1 40123 443\r\n".getBytes(StandardCharsets.US_ASCII));
            try (SSLSocket tls = (SSLSocket) certs.clientContext().getSocketFactory()
                    .createSocket(raw, "localhost", address.getPort(), false)) {
                byte[] line = "through HAProxy\n".getBytes(StandardCharsets.US_ASCII);
                tls.getOutputStream().write(line);
                assertArrayEquals(line, tls.getInputStream().readNBytes(line.length));
            }
        }
        eventually().until(() -> handlers.size() == 1 && handlers.get(0).opened.isDone());
        ProxyProtocolTest.Recorder r = handlers.get(0);
        assertEquals(new InetSocketAddress("203.0.113.7", 40123), r.remoteAtOpen);
        assertEquals(new InetSocketAddress("192.0.2.1", 443), r.localAtOpen);
        Connection c = r.opened.get();
        assertEquals("203.0.113.7", c.proxyHeader().sourceAddress().getAddress().getHostAddress());
        assertEquals("TLSv1.3", c.tls().protocol());
    }

    /** A header dripped a byte at a time still opens TLS after it, with nothing lost. */
    @Test
    void aHeaderSplitOverManyWritesStillOpensTls() throws Exception {
        InetSocketAddress address = (InetSocketAddress) server.localAddress();
        try (Socket raw = new Socket(address.getAddress(), address.getPort())) {
            raw.setTcpNoDelay(true);
            OutputStream out = raw.getOutputStream();
            for (byte b : "PROXY TCP4 198.51.100.9 192.0.2.1 5555 443\r\n".getBytes(StandardCharsets.US_ASCII)) {
                out.write(b);
                out.flush();
            }
            try (SSLSocket tls = (SSLSocket) certs.clientContext().getSocketFactory()
                    .createSocket(raw, "localhost", address.getPort(), false)) {
                byte[] line = "slowly\n".getBytes(StandardCharsets.US_ASCII);
                tls.getOutputStream().write(line);
                assertArrayEquals(line, tls.getInputStream().readNBytes(line.length));
            }
        }
        eventually().until(() -> handlers.size() == 1 && handlers.get(0).opened.isDone());
        assertEquals(new InetSocketAddress("198.51.100.9", 5555), handlers.get(0).remoteAtOpen);
    }

    /**
     * A TLS client with no header, on a server that requires one: the ClientHello is not a
     * header, so the connection closes with the header's error (not a TLS one), the handler
     * never opened; the next, proper connection is served.
     */
    @Test
    void aTlsClientWithoutTheRequiredHeaderIsClosedWithTheHeadersCause() throws Exception {
        InetSocketAddress address = (InetSocketAddress) server.localAddress();
        try (SSLSocket tls = (SSLSocket) certs.clientContext().getSocketFactory()
                .createSocket(address.getAddress(), address.getPort())) {
            assertThrows(IOException.class, tls::startHandshake);
        }
        eventually().until(() -> handlers.size() == 1 && handlers.get(0).closed.isDone());
        assertInstanceOf(ProxyProtocolException.class, handlers.get(0).closed.get());
        assertFalse(handlers.get(0).opened.isDone(), "onOpen never ran");
        eventually().until(() -> server.metrics().closed(CloseCause.PROXY_HEADER) == 1);
        handlers.clear();
        aHeaderThenATlsHandshakeGivesTheHandlerTheHeadersAddressAndPlaintext();
    }

    /** Ending the stream inside the header is the header's error, and gives back what it held. */
    @Test
    void endOfStreamInsideTheHeaderClosesWithTheHeadersCause() throws Exception {
        InetSocketAddress address = (InetSocketAddress) server.localAddress();
        try (Socket raw = new Socket(address.getAddress(), address.getPort())) {
            raw.getOutputStream().write("PROXY TCP4 203.0.1".getBytes(StandardCharsets.US_ASCII));
            raw.shutdownOutput();
            assertEquals(-1, raw.getInputStream().read());
        }
        eventually().until(() -> handlers.size() == 1 && handlers.get(0).closed.isDone());
        assertInstanceOf(ProxyProtocolException.class, handlers.get(0).closed.get());
        eventually().until(() -> loop.memoryBudget().used() == 0);
    }
}
