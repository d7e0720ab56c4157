package io.selectloop.echo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The demo serving TLS (issue 10), against clients nobody here wrote: {@code openssl
 * s_client} (TLS 1.2 and 1.3, with and without a client certificate, renegotiation and
 * key updates) and Python's {@code ssl} module; and the demo's own {@code client --tls}.
 */
class TlsDemoIT {
    @TempDir
    static Path dir;
    static TlsPeer.Certs certs;

    @BeforeAll
    static void makeCertificates() throws IOException {
        certs = new TlsPeer.Certs(dir);
    }

    private static DemoProcess tlsServer(String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of("--port", "0", "--tls-cert", certs.serverCert.toString(),
                "--tls-key", certs.serverKey.toString()));
        args.addAll(List.of(extra));
        return DemoProcess.start(args.toArray(new String[0]));
    }

    private static String[] verifying(String... extra) {
        List<String> args = new ArrayList<>(List.of("-CAfile", certs.ca.toString(), "-verify_return_error",
                "-servername", "localhost"));
        args.addAll(List.of(extra));
        return args.toArray(new String[0]);
    }

    @ParameterizedTest
    @ValueSource(strings = {"-tls1_2", "-tls1_3"})
    void opensslSClientGetsItsLinesEchoed(String protocol) throws Exception {
        try (DemoProcess server = tlsServer()) {
            URI uri = server.awaitListening();
            assertEquals("tls", uri.getScheme(), "the demo says it serves TLS");
            try (TlsPeer client = TlsPeer.sClient(uri.getPort(), verifying(protocol))) {
                String version = protocol.equals("-tls1_2") ? "TLSv1.2" : "TLSv1.3";
                assertTrue(client.awaitLine("New, " + version), client.transcript());
                client.send("hello over " + version);
                assertTrue(client.awaitLine("hello over " + version), client.transcript());
                client.send("second line");
                assertTrue(client.awaitLine("second line"), client.transcript());
            }
            assertEquals(0, server.terminate());
        }
    }

    @Test
    void pythonSslClientsGetTheirLinesEchoedOnTls12And13() throws Exception {
        try (DemoProcess server = tlsServer()) {
            URI uri = server.awaitListening();
            String script = String.join("\n",
                    "import socket, ssl, sys",
                    "for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):",
                    "    ctx = ssl.create_default_context(cafile=sys.argv[1])",
                    "    ctx.minimum_version = ctx.maximum_version = version",
                    "    with socket.create_connection(('127.0.0.1', int(sys.argv[2]))) as raw:",
                    "        with ctx.wrap_socket(raw, server_hostname='localhost') as s:",
                    "            f = s.makefile('rwb')",
                    "            for line in (b'python says hi\\n', b'x' * 40000 + b'\\n'):",
                    "                f.write(line); f.flush()",
                    "                assert f.readline() == line",
                    "            print(s.version(), 'ok', flush=True)",
                    "            s.unwrap()");
            Process python = new ProcessBuilder("python3", "-c", script, certs.ca.toString(),
                    String.valueOf(uri.getPort())).redirectErrorStream(true).start();
            List<String> printed = readAll(python.getInputStream());
            assertTrue(python.waitFor(60, TimeUnit.SECONDS));
            assertEquals(List.of("TLSv1.2 ok", "TLSv1.3 ok"), printed, String.join("\n", printed));
            assertEquals(0, python.exitValue());
            assertEquals(0, server.terminate());
        }
    }

    @Test
    void theDemoClientSpeaksTlsCheckingTheCertificateOrNot() throws Exception {
        try (DemoProcess server = tlsServer()) {
            int port = server.awaitListening().getPort();
            Client checked = client("--host", "localhost", "--port", String.valueOf(port), "--tls",
                    "--tls-ca", certs.ca.toString());
            assertEquals(0, checked.status, checked.output.toString());
            assertEquals(List.of("one", "two"), checked.output);
            Client insecure = client("--port", String.valueOf(port), "--tls", "--tls-insecure");
            assertEquals(0, insecure.status, insecure.output.toString());
            assertEquals(List.of("one", "two"), insecure.output);
            // The JVM's trust store does not know the test CA: one line, status 1, not a stack trace.
            Client untrusted = client("--port", String.valueOf(port), "--tls");
            assertEquals(1, untrusted.status);
            assertEquals(1, untrusted.output.size(), untrusted.output.toString());
            assertTrue(untrusted.output.get(0).startsWith("echo-demo client: cannot connect to tls://"), untrusted.output.toString());
            assertEquals(0, server.terminate());
        }
    }

    private record Client(int status, List<String> output) { }

    private static Client client(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(DemoProcess.java(), "-jar", DemoProcess.jar().toString(), "client"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try (OutputStream stdin = p.getOutputStream()) {
            stdin.write("one\ntwo\n".getBytes(StandardCharsets.UTF_8));
        }
        List<String> output = readAll(p.getInputStream());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Client(p.exitValue(), output);
    }

    private static List<String> readAll(InputStream in) throws IOException {
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                lines.add(line);
            }
        }
        return lines;
    }

    @ParameterizedTest
    @ValueSource(strings = {"-tls1_2", "-tls1_3"})
    void withTlsClientCaOnlyClientsWithACertificateAreServed(String protocol) throws Exception {
        try (DemoProcess server = tlsServer("--tls-client-ca", certs.ca.toString())) {
            int port = server.awaitListening().getPort();
            try (TlsPeer withCert = TlsPeer.sClient(port, verifying(protocol, "-cert", certs.clientCert.toString(),
                    "-key", certs.clientKey.toString()))) {
                withCert.send("I have a certificate");
                assertTrue(withCert.awaitLine("I have a certificate"), withCert.transcript());
                try (TlsPeer without = TlsPeer.sClient(port, verifying(protocol))) {
                    without.send("I have none");
                    assertTrue(without.awaitExit(), "the server closed the connection without a certificate");
                    assertFalse(without.output.contains("I have none"), without.transcript());
                }
                withCert.send("still served");
                assertTrue(withCert.awaitLine("still served"), withCert.transcript());
            }
            assertEquals(0, server.terminate());
            assertEquals(1, server.countStderr("TLS: "), "one log line for the refused client: " + server.stderr);
        }
    }

    /** The demo client's --tls-cert/--tls-key (shared with the files client, TlsFlags) satisfy --tls-client-ca. */
    @Test
    void theDemoClientShowsItsCertificateWhenTheServerRequiresOne() throws Exception {
        try (DemoProcess server = tlsServer("--tls-client-ca", certs.ca.toString())) {
            String port = String.valueOf(server.awaitListening().getPort());
            Client with = client("--port", port, "--tls", "--tls-ca", certs.ca.toString(),
                    "--tls-cert", certs.clientCert.toString(), "--tls-key", certs.clientKey.toString());
            assertEquals(0, with.status, with.output.toString());
            assertEquals(List.of("one", "two"), with.output);
            Client without = client("--port", port, "--tls", "--tls-ca", certs.ca.toString());
            assertEquals(1, without.status, without.output.toString());
            assertFalse(without.output.contains("one"), without.output.toString());
            Client halfIdentity = client("--port", port, "--tls", "--tls-cert", certs.clientCert.toString());
            assertEquals(1, halfIdentity.status, halfIdentity.output.toString());
            assertEquals(List.of("echo-demo client: --tls-cert and --tls-key go together"), halfIdentity.output);
            assertEquals(0, server.terminate());
        }
    }

    @Test
    void clientInitiatedRenegotiationIsRefusedOnTls12AndOthersCarryOn() throws Exception {
        try (DemoProcess server = tlsServer()) {
            int port = server.awaitListening().getPort();
            try (TlsPeer control = TlsPeer.sClient(port, verifying("-tls1_2"));
                 TlsPeer renegotiator = TlsPeer.sClient(port, verifying("-tls1_2"))) {
                renegotiator.send("before");
                assertTrue(renegotiator.awaitLine("before"), renegotiator.transcript());
                renegotiator.send("R");
                assertTrue(renegotiator.awaitLine("RENEGOTIATING"), renegotiator.transcript());
                assertTrue(renegotiator.awaitExit(), "the server closed the renegotiating connection");
                control.send("unaffected");
                assertTrue(control.awaitLine("unaffected"), control.transcript());
            }
            assertEquals(0, server.terminate());
            assertEquals(1, server.countStderr("renegotiation refused"), String.join("\n", server.stderr));
        }
    }

    @Test
    void tls13KeyUpdatesInBothFormsKeepTheConnectionWorking() throws Exception {
        try (DemoProcess server = tlsServer()) {
            int port = server.awaitListening().getPort();
            try (TlsPeer client = TlsPeer.sClient(port, verifying("-tls1_3"))) {
                client.send("before the updates");
                assertTrue(client.awaitLine("before the updates"), client.transcript());
                client.send("K"); // update ours and ask the server to update its keys too
                assertTrue(client.awaitLine("KEYUPDATE"), client.transcript());
                client.send("after K");
                assertTrue(client.awaitLine("after K"), client.transcript());
                client.send("k"); // update ours only
                assertTrue(client.awaitLine("KEYUPDATE"), client.transcript());
                client.send("after k");
                assertTrue(client.awaitLine("after k"), client.transcript());
            }
            assertEquals(0, server.terminate());
        }
    }

    @Test
    void plaintextAndATruncatedRecordCloseOnlyTheirOwnConnections() throws Exception {
        try (DemoProcess server = tlsServer()) {
            int port = server.awaitListening().getPort();
            try (TlsPeer control = TlsPeer.sClient(port, verifying())) {
                control.send("first");
                assertTrue(control.awaitLine("first"), control.transcript());
                try (Socket plain = new Socket("127.0.0.1", port)) {
                    plain.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    plain.setSoTimeout(60_000);
                    assertTrue(drainsToEnd(plain.getInputStream()), "plaintext gets the connection closed");
                }
                try (Socket truncated = new Socket("127.0.0.1", port)) {
                    // A handshake record header promising 300 bytes, 10 of them, then the end.
                    OutputStream out = truncated.getOutputStream();
                    out.write(new byte[] {22, 3, 1, 1, 44, 1, 0, 1, 40, 3, 3, 0, 0, 0, 0});
                    truncated.shutdownOutput();
                    truncated.setSoTimeout(60_000);
                    assertTrue(drainsToEnd(truncated.getInputStream()), "a truncated record gets the connection closed");
                }
                control.send("still here");
                assertTrue(control.awaitLine("still here"), control.transcript());
            }
            assertEquals(0, server.terminate());
            // Logged at most once each; the log limiter folds the second into a count within 10 s.
            long lines = server.countStderr("TLS: ");
            assertTrue(lines >= 1 && lines <= 2, String.join("\n", server.stderr));
            assertTrue(server.countStderr("plaintext connection?") == 1, String.join("\n", server.stderr));
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
            return true; // closed with unread input: a reset is an end too
        }
    }

    @Test
    void anEncryptedKeyIsRefusedInOneLineNamingTheFile() throws Exception {
        Path encrypted = dir.resolve("encrypted.key");
        TlsPeer.openssl("pkcs8", "-topk8", "-in", certs.serverKey, "-out", encrypted, "-passout", "pass:secret");
        try (DemoProcess server = DemoProcess.start("--port", "0", "--tls-cert", certs.serverCert.toString(),
                "--tls-key", encrypted.toString())) {
            assertEquals(2, server.awaitExit(java.time.Duration.ofSeconds(60)));
            server.awaitOutputDrained();
            assertEquals(1, server.stderr.size(), server.stderr.toString());
            assertTrue(server.stderr.get(0).contains(encrypted.toString()) && server.stderr.get(0).contains("encrypted"),
                    server.stderr.toString());
        }
    }
}
