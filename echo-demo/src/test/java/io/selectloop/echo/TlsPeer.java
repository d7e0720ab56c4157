package io.selectloop.echo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A TLS peer nobody here wrote, as a process: {@code openssl s_client} driven line by
 * line through its stdin (its interactive commands included: {@code R} renegotiates,
 * {@code K} and {@code k} send TLS 1.3 key updates), with stdout and stderr merged and
 * collected. Also makes the test certificates with the {@code openssl} CLI.
 */
public final class TlsPeer implements AutoCloseable {
    private final Process process;
    private final OutputStream stdin;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    final List<String> output = new CopyOnWriteArrayList<>();

    private TlsPeer(Process process) {
        this.process = process;
        this.stdin = process.getOutputStream();
        Thread pump = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    output.add(line);
                    lines.add(line);
                }
            } catch (IOException ignored) {
                // the process ended
            }
        }, "s_client-output");
        pump.setDaemon(true);
        pump.start();
    }

    /** {@code openssl s_client -connect 127.0.0.1:PORT extra...}, interactive (no -quiet), so its commands work. */
    static TlsPeer sClient(int port, String... extra) throws IOException {
        List<String> command = new ArrayList<>(List.of("openssl", "s_client", "-connect", "127.0.0.1:" + port));
        command.addAll(List.of(extra));
        return new TlsPeer(new ProcessBuilder(command).redirectErrorStream(true).start());
    }

    void send(String line) throws IOException {
        stdin.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        stdin.flush();
    }

    /** Waits for a line not seen by an earlier call containing {@code fragment}; false if the process ended (or 60 s passed) first. */
    boolean awaitLine(String fragment) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() - deadline < 0) {
            String line = lines.poll(100, TimeUnit.MILLISECONDS);
            if (line != null && line.contains(fragment)) {
                return true;
            }
            if (line == null && !process.isAlive() && lines.isEmpty()) {
                return false;
            }
        }
        return false;
    }

    boolean awaitExit() throws InterruptedException {
        return process.waitFor(60, TimeUnit.SECONDS);
    }

    String transcript() {
        return String.join("\n", DemoProcess.tail(output, 30));
    }

    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------ certificates

    /**
     * A CA, a server certificate it signed for localhost/127.0.0.1, and a client certificate it
     * signed. Public for the files program's TLS tests, in their own package.
     */
    public static final class Certs {
        public final Path ca;
        public final Path serverCert;
        public final Path serverKey;
        public final Path clientCert;
        public final Path clientKey;

        public Certs(Path dir) throws IOException {
            ca = dir.resolve("ca.pem");
            Path caKey = dir.resolve("ca.key");
            serverCert = dir.resolve("server.pem");
            serverKey = dir.resolve("server.key");
            clientCert = dir.resolve("client.pem");
            clientKey = dir.resolve("client.key");
            Path ext = dir.resolve("san.ext");
            Files.writeString(ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
            openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", ca,
                    "-subj", "/CN=echo-demo test CA", "-days", "3",
                    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
            sign(dir, serverKey, serverCert, "/CN=localhost", ext, caKey);
            sign(dir, clientKey, clientCert, "/CN=echo-demo test client", null, caKey);
        }

        private void sign(Path dir, Path key, Path cert, String subject, Path ext, Path caKey) throws IOException {
            Path csr = dir.resolve(cert.getFileName() + ".csr");
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", subject);
            List<Object> x509 = new ArrayList<>(List.of("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey,
                    "-CAcreateserial", "-out", cert, "-days", "3"));
            if (ext != null) {
                x509.addAll(List.of("-extfile", ext));
            }
            openssl(x509.toArray());
        }
    }

    static void openssl(Object... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add("openssl");
        for (Object a : args) {
            command.add(a.toString());
        }
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException(command + " failed: " + new String(out, StandardCharsets.UTF_8));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }
}
