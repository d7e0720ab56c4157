package io.selectloop;

import static io.selectloop.TestSupport.anyLoopbackPort;
import static io.selectloop.TestSupport.eventually;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** TLS between selectloop's own server and client, on real sockets. */
class TlsTest {
    static final Duration PATIENT = Duration.ofSeconds(30);
    private final TestCerts certs = TestCerts.get();
    private EventLoop serverLoop;
    private EventLoop clientLoop;

    @BeforeEach
    void startLoops() {
        serverLoop = EventLoop.start("tls-server");
        clientLoop = EventLoop.start("tls-client");
    }

    @AfterEach
    void closeLoops() {
        clientLoop.close();
        serverLoop.close();
    }

    /** Collects what a client connection receives and how it ends. */
    static final class Collector implements Handler {
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        final CompletableFuture<Throwable> closed = new CompletableFuture<>();
        final List<String> events = new CopyOnWriteArrayList<>();
        volatile TlsInfo infoAtOpen;

        @Override
        public void onOpen(Connection c) {
            infoAtOpen = c.tls();
            events.add("open");
        }

        @Override
        public void onData(Connection c, ByteBuffer data) {
            byte[] bytes = new byte[data.remaining()];
            data.get(bytes);
            synchronized (received) {
                received.write(bytes, 0, bytes.length);
            }
        }

        @Override
        public void onEof(Connection c) {
            events.add("eof");
            c.close();
        }

        @Override
        public void onClose(Connection c, Throwable cause) {
            events.add("close");
            closed.complete(cause);
        }

        byte[] bytes() {
            synchronized (received) {
                return received.toByteArray();
            }
        }

        int size() {
            synchronized (received) {
                return received.size();
            }
        }
    }

    StreamOptions serverOptions(TlsOptions.Builder tls) {
        return StreamOptions.builder().tls(tls.build()).build();
    }

    StreamServer echoServer(TlsOptions.Builder tls) throws Exception {
        return StreamServer.bind(serverLoop, anyLoopbackPort(), serverOptions(tls), () -> (c, data) -> c.write(data));
    }

    Connection connect(StreamServer server, TlsOptions.Builder tls, Handler handler) throws Exception {
        return StreamClient.connect(clientLoop, server.localAddress(), StreamOptions.builder().tls(tls.build()).build(),
                handler, PATIENT).get(30, TimeUnit.SECONDS);
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void echoesThroughTheEngineAndReportsWhatWasNegotiated(String protocol) throws Exception {
        StreamServer server = echoServer(TlsOptions.server(certs.serverContext()).protocols(protocol)
                .applicationProtocols("echo/1", "http/1.1"));
        Collector client = new Collector();
        Connection c = connect(server, TlsOptions.client(certs.clientContext()).serverName("localhost")
                .applicationProtocols("echo/1"), client);
        TlsInfo info = client.infoAtOpen;
        assertNotNull(info, "tls() is ready in onOpen");
        assertEquals(protocol, info.protocol());
        assertEquals("echo/1", info.applicationProtocol());
        assertEquals("CN=localhost", ((X509Certificate) info.peerCertificates().get(0)).getSubjectX500Principal().getName());
        byte[] payload = TestSupport.randomBytes(new java.util.Random(1), 300_000);
        c.write(payload);
        eventually().until(() -> client.size() == payload.length);
        assertArrayEquals(payload, client.bytes());
        c.close();
        assertNull(client.closed.get(30, TimeUnit.SECONDS));
    }

    @Test
    void plainConnectionsReportNoTls() throws Exception {
        StreamServer server = StreamServer.bind(serverLoop, anyLoopbackPort(), () -> (c, data) -> c.write(data));
        Collector client = new Collector();
        StreamClient.connect(clientLoop, server.localAddress(), client, PATIENT).get(30, TimeUnit.SECONDS);
        assertNull(client.infoAtOpen);
    }

    @Test
    void unknownCertificateAuthorityFailsTheClientFutureAndClosesWithTheCause() throws Exception {
        StreamServer server = echoServer(TlsOptions.server(certs.strangerServerContext()));
        Collector client = new Collector();
        CompletableFuture<Connection> f = StreamClient.connect(clientLoop, server.localAddress(),
                StreamOptions.builder().tls(TlsOptions.client(certs.clientContext()).build()).build(), client, PATIENT);
        Throwable failure = eventually().until(() -> f.handle((ok, t) -> t).get(), t -> t != null);
        assertInstanceOf(SSLHandshakeException.class, failure instanceof java.util.concurrent.CompletionException
                ? failure.getCause() : failure);
        assertInstanceOf(SSLHandshakeException.class, client.closed.get(30, TimeUnit.SECONDS));
        assertFalse(client.events.contains("open"), "onOpen runs only after a successful handshake");
    }
}
