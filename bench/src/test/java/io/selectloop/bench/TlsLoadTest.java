package io.selectloop.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The TLS servers and the load generator's TLS: every byte echoed intact through each
 * server's TLS, against a TLS server nobody here wrote (Python's ssl module), and the
 * generator failing loudly when the other end does not speak TLS.
 */
class TlsLoadTest {
    private static final Duration WARMUP = Duration.ofMillis(100);
    private static final Duration DURATION = Duration.ofMillis(400);
    /**
     * Churn is measured longer: a full handshake is milliseconds of (at first interpreted)
     * RSA and X25519 on each side, and the machine running the build may be busy.
     */
    private static final Duration CHURN_WARMUP = Duration.ofSeconds(1);
    private static final Duration CHURN_DURATION = Duration.ofMillis(1500);
    private static final InetSocketAddress ANY_PORT = new InetSocketAddress("127.0.0.1", 0);

    @TempDir
    static Path keyDir;
    private static Path keyStore;
    private static EchoServerImpl.ServerSettings settings;

    private AutoCloseable server;

    @BeforeAll
    static void makeKey() throws Exception {
        keyStore = BenchTls.generateKeyStore(keyDir);
        settings = new EchoServerImpl.ServerSettings(1, BenchTls.serverKeys(keyStore));
    }

    @AfterEach
    void stopServer() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    private InetSocketAddress start(String impl) throws Exception {
        EchoServerImpl.RunningServer running = ServerImpls.find(impl).orElseThrow().start(ANY_PORT, settings);
        server = running;
        return running.localAddress();
    }

    private static LoadResult run(LoadSpec spec) throws InterruptedException {
        return new LoadGenerator(spec.withProgress(false).withIoThreads(2).withTls(true)).run(LoadGenerator.PhaseListener.NONE);
    }

    private static void assertClean(LoadResult r) {
        assertEquals(0, r.errors(), () -> "errors: " + r.errorSamples());
        assertTrue(r.messages() > 0, "no message completed");
    }

    /** Small pipelined messages (several per record), 16 KiB + 1 (two records each), and handshake churn. */
    @ParameterizedTest
    @ValueSource(strings = {"reactor-tls", "threads-tls", "netty-nio-tls"})
    void everyTlsServerEchoesEveryByte(String impl) throws Exception {
        InetSocketAddress address = start(impl);
        assertTrue(ServerImpls.find(impl).orElseThrow().tls());

        LoadResult small = run(LoadSpec.closedLoop(address, 12, 64, 16, WARMUP, DURATION));
        assertClean(small);
        assertEquals(12, small.connectionsUp());

        LoadResult large = run(LoadSpec.closedLoop(address, 3, 16 * 1024 + 1, 2, WARMUP, DURATION));
        assertClean(large);

        LoadResult churn = run(LoadSpec.churn(address, 6, 64, CHURN_WARMUP, CHURN_DURATION));
        assertClean(churn);
    }

    /** The generator's TLS against OpenSSL, through Python's ssl module: its own echo of itself proves nothing. */
    @Test
    void theGeneratorSpeaksTlsToOpenSsl(@TempDir Path dir) throws Exception {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        writePem(cert, key);
        Path script = dir.resolve("tls_echo_server.py");
        try (var in = TlsLoadTest.class.getResourceAsStream("tls_echo_server.py")) {
            Files.copy(in, script);
        }
        Process python = new ProcessBuilder("python3", script.toString(), cert.toString(), key.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        server = () -> {
            python.getOutputStream().close();
            if (!python.waitFor(10, TimeUnit.SECONDS)) {
                python.destroyForcibly();
            }
        };
        BufferedReader out = new BufferedReader(new InputStreamReader(python.getInputStream(), StandardCharsets.US_ASCII));
        InetSocketAddress address = new InetSocketAddress("127.0.0.1", Integer.parseInt(out.readLine().trim()));

        assertClean(run(LoadSpec.closedLoop(address, 4, 100, 8, WARMUP, DURATION)));
        assertClean(run(LoadSpec.closedLoop(address, 2, 40_000, 1, WARMUP, DURATION)));
        assertClean(run(LoadSpec.churn(address, 4, 64, CHURN_WARMUP, CHURN_DURATION)));
    }

    /** A plain echo server sends the ClientHello back: every handshake fails, and says so. */
    @Test
    void aServerThatDoesNotSpeakTlsFailsEveryHandshake() throws Exception {
        InetSocketAddress address = start("reactor");
        LoadResult r = run(LoadSpec.closedLoop(address, 5, 64, 1, WARMUP, DURATION));
        assertEquals(5, r.errors(), r.errorSamples()::toString);
        assertEquals(0, r.messages());
        assertTrue(r.errorSamples().stream().allMatch(e -> e.contains("TLS handshake")), r.errorSamples()::toString);
    }

    /** And a TLS server spoken to in plain text answers nothing that echoes. */
    @Test
    void plainTextToATlsServerIsAnError() throws Exception {
        InetSocketAddress address = start("netty-nio-tls");
        LoadResult r = new LoadGenerator(LoadSpec.closedLoop(address, 3, 64, 1, WARMUP, DURATION).withProgress(false))
                .run(LoadGenerator.PhaseListener.NONE);
        assertTrue(r.errors() >= 3, () -> "errors " + r.errors() + ": " + r.errorSamples());
        assertEquals(0, r.messages());
    }

    /** The keytool key as a PEM certificate and a PKCS#8 PEM key, as Python's ssl wants them. */
    private static void writePem(Path cert, Path key) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(keyStore)) {
            store.load(in, BenchTls.PASSWORD.toCharArray());
        }
        Base64.Encoder base64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII));
        Files.writeString(cert, "-----BEGIN CERTIFICATE-----\n"
                + base64.encodeToString(store.getCertificate(BenchTls.KEY_ALIAS).getEncoded()) + "\n-----END CERTIFICATE-----\n");
        Files.writeString(key, "-----BEGIN PRIVATE KEY-----\n"
                + base64.encodeToString(store.getKey(BenchTls.KEY_ALIAS, BenchTls.PASSWORD.toCharArray()).getEncoded())
                + "\n-----END PRIVATE KEY-----\n");
    }
}
