package io.selectloop;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;

/**
 * Test certificates made at test time with the {@code openssl} CLI (CI installs it) into
 * a temporary directory, once per JVM: a CA, a server certificate it signed (CN and SAN
 * localhost and 127.0.0.1, RSA and EC), a client certificate it signed, and an unrelated
 * CA with a server certificate of its own (for "unknown CA"). No key is committed.
 */
final class TestCerts {
    final Path dir;
    final Path caCert;
    final Path serverCert;
    final Path serverKey;
    final Path ecServerCert;
    final Path ecServerKey;
    final Path clientCert;
    final Path clientKey;
    final Path strangerCert;
    final Path strangerKey;

    private static TestCerts instance;

    private TestCerts(Path dir) {
        this.dir = dir;
        caCert = dir.resolve("ca.pem");
        serverCert = dir.resolve("server.pem");
        serverKey = dir.resolve("server.key");
        ecServerCert = dir.resolve("server-ec.pem");
        ecServerKey = dir.resolve("server-ec.key");
        clientCert = dir.resolve("client.pem");
        clientKey = dir.resolve("client.key");
        strangerCert = dir.resolve("stranger.pem");
        strangerKey = dir.resolve("stranger.key");
    }

    static synchronized TestCerts get() {
        if (instance == null) {
            try {
                Path dir = Files.createTempDirectory("selectloop-certs");
                dir.toFile().deleteOnExit();
                TestCerts certs = new TestCerts(dir);
                certs.generate();
                instance = certs;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return instance;
    }

    private void generate() throws IOException {
        Path ext = dir.resolve("server.ext");
        Files.writeString(ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        Path caKey = dir.resolve("ca.key");
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", caCert,
                "-subj", "/CN=selectloop test CA", "-days", "3",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        signed(serverKey, serverCert, "/CN=localhost", "rsa:2048", caCert, caKey, ext);
        signed(ecServerKey, ecServerCert, "/CN=localhost", "ec", caCert, caKey, ext);
        signed(clientKey, clientCert, "/CN=selectloop test client", "ec", caCert, caKey, null);
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", strangerKey, "-out", strangerCert, "-subj", "/CN=localhost", "-days", "3",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1");
    }

    private void signed(Path key, Path cert, String subject, String keyType, Path ca, Path caKey, Path ext)
            throws IOException {
        Path csr = dir.resolve(cert.getFileName() + ".csr");
        List<Object> req = new ArrayList<>(Arrays.asList("req", "-newkey", keyType));
        if (keyType.equals("ec")) {
            req.addAll(List.of("-pkeyopt", "ec_paramgen_curve:prime256v1"));
        }
        req.addAll(List.of("-nodes", "-keyout", key, "-out", csr, "-subj", subject));
        openssl(req.toArray());
        List<Object> x509 = new ArrayList<>(Arrays.asList("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey,
                "-CAcreateserial", "-out", cert, "-days", "3"));
        if (ext != null) {
            x509.addAll(List.of("-extfile", ext));
        }
        openssl(x509.toArray());
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

    SSLContext serverContext() {
        return context(() -> Pem.serverContext(serverCert, serverKey, null));
    }

    /** A server that trusts client certificates from the test CA. */
    SSLContext serverContextTrustingClients() {
        return context(() -> Pem.serverContext(serverCert, serverKey, caCert));
    }

    SSLContext ecServerContext() {
        return context(() -> Pem.serverContext(ecServerCert, ecServerKey, null));
    }

    SSLContext strangerServerContext() {
        return context(() -> Pem.serverContext(strangerCert, strangerKey, null));
    }

    SSLContext clientContext() {
        return context(() -> Pem.clientContext(caCert, null, null));
    }

    SSLContext clientContextWithCertificate() {
        return context(() -> Pem.clientContext(caCert, clientCert, clientKey));
    }

    /**
     * A client that shows the stranger's self-signed certificate whatever the server asks
     * for (the JDK's own key manager would send none, as no CA the server names issued it).
     */
    SSLContext clientContextShowingTheStranger() {
        return context(() -> {
            java.security.PrivateKey key = Pem.readPrivateKey(strangerKey);
            java.security.cert.X509Certificate[] chain =
                    Pem.readCertificates(strangerCert).toArray(new java.security.cert.X509Certificate[0]);
            javax.net.ssl.X509ExtendedKeyManager always = new javax.net.ssl.X509ExtendedKeyManager() {
                @Override public String[] getClientAliases(String type, java.security.Principal[] issuers) { return new String[] {"s"}; }
                @Override public String chooseClientAlias(String[] type, java.security.Principal[] issuers, java.net.Socket s) { return "s"; }
                @Override public String chooseEngineClientAlias(String[] type, java.security.Principal[] issuers, javax.net.ssl.SSLEngine e) { return "s"; }
                @Override public String[] getServerAliases(String type, java.security.Principal[] issuers) { return null; }
                @Override public String chooseServerAlias(String type, java.security.Principal[] issuers, java.net.Socket s) { return null; }
                @Override public java.security.cert.X509Certificate[] getCertificateChain(String alias) { return chain; }
                @Override public java.security.PrivateKey getPrivateKey(String alias) { return key; }
            };
            javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance("PKIX");
            tmf.init(Pem.trustStore(caCert));
            SSLContext c = SSLContext.getInstance("TLS");
            c.init(new javax.net.ssl.KeyManager[] {always}, tmf.getTrustManagers(), null);
            return c;
        });
    }

    private interface ContextMaker {
        SSLContext make() throws Exception;
    }

    private static SSLContext context(ContextMaker maker) {
        try {
            return maker.make();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
