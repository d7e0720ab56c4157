package io.selectloop.echo.files;

import static io.selectloop.echo.files.FilesFixture.awaitSize;
import static io.selectloop.echo.files.FilesFixture.number;
import static io.selectloop.echo.files.FilesFixture.randomFile;
import static io.selectloop.echo.files.FilesFixture.sha256;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.selectloop.echo.FilesDemoProcess;
import io.selectloop.echo.TlsPeer;
import io.selectloop.echo.files.FilesFixture.Server;
import java.io.IOException;
import java.io.InputStream;
import io.selectloop.Pem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import javax.net.ssl.SSLSocket;

/**
 * {@code files serve --tls-cert/--tls-key [--tls-client-ca]} and {@code files ls|put|get --tls}
 * as separate processes on real sockets, with certificates the {@code openssl} CLI makes for
 * the run (echo-demo's {@link TlsPeer.Certs}).
 */
class FilesTlsIT {
    @TempDir
    static Path certDir;
    @TempDir
    static Path otherCertDir;
    static TlsPeer.Certs certs;
    /** A second CA and its certificates: trusting it means not trusting the server's. */
    static TlsPeer.Certs otherCerts;

    @TempDir
    Path dir;
    private Path root;
    private Path local;

    @BeforeAll
    static void makeCertificates() throws IOException {
        certs = new TlsPeer.Certs(certDir);
        otherCerts = new TlsPeer.Certs(otherCertDir);
    }

    @BeforeEach
    void directories() throws Exception {
        root = Files.createDirectory(dir.resolve("root"));
        local = Files.createDirectory(dir.resolve("local"));
    }

    private Server tlsServer(String... extra) throws Exception {
        List<String> options = new ArrayList<>(List.of("--tls-cert", certs.serverCert.toString(),
                "--tls-key", certs.serverKey.toString()));
        options.addAll(List.of(extra));
        return Server.start(root, options.toArray(String[]::new));
    }

    /** {@code files COMMAND... --tls --tls-ca CA extra... --port P}, started. */
    private static FilesDemoProcess tlsClient(Server server, String command, List<String> args, String... extra)
            throws IOException {
        List<String> all = new ArrayList<>(List.of(command));
        all.addAll(args);
        all.addAll(List.of("--tls", "--tls-ca", certs.ca.toString()));
        all.addAll(List.of(extra));
        return FilesFixture.client(server, all.toArray(String[]::new));
    }

    private static FilesDemoProcess runTls(Server server, String command, List<String> args, String... extra) throws Exception {
        FilesDemoProcess p = tlsClient(server, command, args, extra);
        p.awaitExit(Duration.ofMinutes(5));
        return p;
    }

    @Test
    void putGetAndLsOverTlsAreVerifiedEndToEnd() throws Exception {
        Path file = randomFile(local.resolve("data.bin"), 5_000_001);
        String expected = sha256(file);
        try (Server server = tlsServer()) {
            // The certificate names localhost and 127.0.0.1; both are checked against it.
            FilesDemoProcess put = runTls(server, "put", List.of(file.toString()), "--host", "localhost");
            assertEquals(0, put.awaitExit(Duration.ofMinutes(1)), put.describe());
            assertTrue(put.stdout().contains("SHA-256 verified: " + expected), put.describe());
            assertEquals(5_000_001, number(put.stdout(), "sent "), put.describe());
            assertEquals(expected, sha256(root.resolve("data.bin")));

            Path back = local.resolve("back.bin");
            FilesDemoProcess get = runTls(server, "get", List.of("data.bin", back.toString()));
            assertEquals(0, get.awaitExit(Duration.ofMinutes(1)), get.describe());
            assertTrue(get.stdout().contains("SHA-256 verified: " + expected), get.describe());
            assertEquals(5_000_001, number(get.stdout(), "received "), get.describe());
            assertEquals(expected, sha256(back));

            FilesDemoProcess ls = runTls(server, "ls", List.of());
            assertEquals(0, ls.awaitExit(Duration.ofMinutes(1)), ls.describe());
            assertEquals(1, ls.stdout().size(), ls.describe());
            assertTrue(ls.stdout().get(0).matches("f\\s+5000001\\s+data.bin"), ls.describe());

            // --tls-insecure skips the certificate check (and works too).
            FilesDemoProcess insecure = FilesFixture.run(server, "ls", "--tls", "--tls-insecure");
            assertEquals(0, insecure.awaitExit(Duration.ofMinutes(1)), insecure.describe());
            assertEquals(ls.stdout(), insecure.stdout());
        }
    }

    /** A TLS upload and download, each killed (SIGKILL) a quarter in, resume over TLS from what arrived. */
    @Test
    void transfersKilledMidwayResumeOverTls() throws Exception {
        long size = 256L << 20;
        Path file = randomFile(local.resolve("big.bin"), size);
        String expected = sha256(file);
        try (Server server = tlsServer()) {
            Path serverPart = root.resolve(".big.bin.part");
            FilesDemoProcess put = tlsClient(server, "put", List.of(file.toString()));
            awaitSize(serverPart, size / 4, put);
            put.kill();
            assertFalse(Files.exists(root.resolve("big.bin")));
            long arrived = Files.size(serverPart);

            FilesDemoProcess putAgain = runTls(server, "put", List.of(file.toString()));
            assertEquals(0, putAgain.awaitExit(Duration.ofMinutes(5)), putAgain.describe());
            long resumedAt = number(putAgain.stdout(), "resumed at byte ");
            assertTrue(resumedAt >= arrived, "resumed at " + resumedAt + ", though " + arrived + " bytes had arrived");
            assertEquals(size - resumedAt, number(putAgain.stdout(), "sent "), putAgain.describe());
            assertTrue(putAgain.stdout().contains("SHA-256 verified: " + expected), putAgain.describe());
            assertEquals(expected, sha256(root.resolve("big.bin")));

            Path down = local.resolve("down.bin");
            Path downPart = local.resolve(".down.bin.part");
            FilesDemoProcess get = tlsClient(server, "get", List.of("big.bin", down.toString()));
            awaitSize(downPart, size / 4, get);
            get.kill();
            assertFalse(Files.exists(down));
            long got = Files.size(downPart);

            FilesDemoProcess getAgain = runTls(server, "get", List.of("big.bin", down.toString()));
            assertEquals(0, getAgain.awaitExit(Duration.ofMinutes(5)), getAgain.describe());
            assertEquals(got, number(getAgain.stdout(), "resumed at byte "), getAgain.describe());
            assertEquals(size - got, number(getAgain.stdout(), "received "), getAgain.describe());
            assertTrue(getAgain.stdout().contains("SHA-256 verified: " + expected), getAgain.describe());
            assertEquals(expected, sha256(down));
        }
    }

    /** Another CA's certificate, or the JVM's trust store: refused in one line, nothing written, the server unharmed. */
    @Test
    void aClientThatDoesNotTrustTheServerIsRefusedInOneLine() throws Exception {
        Files.writeString(root.resolve("a.txt"), "a\n");
        try (Server server = tlsServer()) {
            Path target = local.resolve("a.txt");
            FilesDemoProcess wrongCa = FilesFixture.run(server, "get", "a.txt", target.toString(), "--tls",
                    "--tls-ca", otherCerts.ca.toString());
            assertEquals(1, wrongCa.awaitExit(Duration.ofMinutes(1)), wrongCa.describe());
            assertEquals(1, wrongCa.stderr().size(), wrongCa.describe());
            assertTrue(wrongCa.stderr().get(0).startsWith("files get: TLS failed: "), wrongCa.describe());
            assertFalse(wrongCa.stderr().get(0).contains("resume"), "a certificate error is not resumable: " + wrongCa.describe());
            assertEquals(List.of(), wrongCa.stdout());
            try (var written = Files.list(local)) {
                assertEquals(0, written.count(), "nothing is written, not even a partial file");
            }

            FilesDemoProcess defaultTrust = FilesFixture.run(server, "ls", "--tls");
            assertEquals(1, defaultTrust.awaitExit(Duration.ofMinutes(1)), defaultTrust.describe());
            assertEquals(1, defaultTrust.stderr().size(), defaultTrust.describe());
            assertTrue(defaultTrust.stderr().get(0).startsWith("files ls: TLS failed: "), defaultTrust.describe());

            FilesDemoProcess trusting = runTls(server, "get", List.of("a.txt", target.toString()));
            assertEquals(0, trusting.awaitExit(Duration.ofMinutes(1)), trusting.describe());
            assertEquals("a\n", Files.readString(target));
        }
    }

    /**
     * Plaintext clients (the files client without --tls, and a raw socket speaking the
     * protocol) are cut by a TLS server while a TLS download (a JDK {@code SSLSocket} speaking
     * the protocol, holding the download open by not reading) is in flight on the same loop;
     * the download then finishes and its bytes and trailer match the file.
     */
    @Test
    void plaintextClientsAreCutWithoutHurtingAConcurrentTlsTransfer() throws Exception {
        long size = 64L << 20;
        Path file = randomFile(root.resolve("big.bin"), size);
        String expected = sha256(file);
        try (Server server = tlsServer()) {
            SSLSocket socket = (SSLSocket) Pem.clientContext(certs.ca, null, null).getSocketFactory()
                    .createSocket("127.0.0.1", server.address().getPort());
            try (FilesFixture.RawPeer download = new FilesFixture.RawPeer(socket)) {
                download.send("GET 0 big.bin");
                assertEquals("OK " + size + " 0", download.reply());
                MessageDigest received = MessageDigest.getInstance("SHA-256");
                long firstPart = 4L << 20; // the rest waits in the server's queue and the socket buffers
                readInto(download.in, received, firstPart);

                FilesDemoProcess plain = FilesFixture.run(server, "ls");
                assertEquals(1, plain.awaitExit(Duration.ofMinutes(1)), plain.describe());
                assertEquals(1, plain.stderr().size(), plain.describe());
                assertTrue(plain.stderr().get(0).contains("it serves TLS (run with --tls)"), plain.describe());
                try (FilesFixture.RawPeer raw = new FilesFixture.RawPeer(server.address())) {
                    raw.send("LS ");
                    assertTrue(drainsToEnd(raw.in), "the server closes a plaintext connection");
                }

                readInto(download.in, received, size - firstPart);
                assertEquals("SHA256 " + expected, download.reply());
                assertEquals(expected, FilesFixture.hex(received));
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> server.process().countStderr("plaintext connection?") >= 1);
        }
    }

    private static void readInto(InputStream in, MessageDigest digest, long count) throws IOException {
        byte[] buffer = new byte[65536];
        while (count > 0) {
            int n = in.read(buffer, 0, (int) Math.min(buffer.length, count));
            if (n < 0) {
                throw new IOException("the server closed with " + count + " bytes of the download still to come");
            }
            digest.update(buffer, 0, n);
            count -= n;
        }
    }

    /** With --tls-client-ca, a client without a certificate is refused; one with a certificate the CA issued is served. */
    @Test
    void withTlsClientCaOnlyClientsWithACertificateAreServed() throws Exception {
        Path file = randomFile(local.resolve("c.bin"), 1_000_003);
        String expected = sha256(file);
        try (Server server = tlsServer("--tls-client-ca", certs.ca.toString())) {
            FilesDemoProcess without = runTls(server, "put", List.of(file.toString()));
            assertEquals(1, without.awaitExit(Duration.ofMinutes(1)), without.describe());
            assertEquals(1, without.countStderr("files put: TLS failed: "), without.describe());
            assertFalse(without.stderr().stream().anyMatch(l -> l.contains("resume")), without.describe());
            try (var written = Files.list(root)) {
                assertEquals(0, written.count(), "nothing is written without a client certificate");
            }

            // A certificate from a CA the server does not trust is no better.
            FilesDemoProcess foreign = runTls(server, "ls", List.of(), "--tls-cert", otherCerts.clientCert.toString(),
                    "--tls-key", otherCerts.clientKey.toString());
            assertEquals(1, foreign.awaitExit(Duration.ofMinutes(1)), foreign.describe());
            assertEquals(1, foreign.countStderr("files ls: TLS failed: "), foreign.describe());

            String[] identity = {"--tls-cert", certs.clientCert.toString(), "--tls-key", certs.clientKey.toString()};
            FilesDemoProcess put = runTls(server, "put", List.of(file.toString()), identity);
            assertEquals(0, put.awaitExit(Duration.ofMinutes(1)), put.describe());
            assertTrue(put.stdout().contains("SHA-256 verified: " + expected), put.describe());
            Path back = local.resolve("back.bin");
            FilesDemoProcess get = runTls(server, "get", List.of("c.bin", back.toString()), identity);
            assertEquals(0, get.awaitExit(Duration.ofMinutes(1)), get.describe());
            assertEquals(expected, sha256(back));
        }
    }

    /** Reads until the server closes; what it sends first (an alert) does not matter. */
    private static boolean drainsToEnd(InputStream in) throws IOException {
        byte[] buffer = new byte[4096];
        try {
            while (in.read(buffer) >= 0) {
                // an alert, then the end
            }
            return true;
        } catch (java.net.SocketException reset) {
            return true;
        }
    }
}
