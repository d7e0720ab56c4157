package io.selectloop.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Key material and TLS settings shared by the bench's TLS servers and its load generator.
 *
 * <p>The servers' key is made at run time by the JDK's own {@code keytool}: a self-signed
 * RSA 2048 certificate for {@code CN=localhost} (what
 * {@code openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost} makes, the echo
 * demo's documented command), valid for a few days, in a PKCS#12 file with the throwaway
 * password {@link #PASSWORD}. No private key is ever kept in the repository.
 *
 * <p>What is negotiated is fixed by the generator, so every server does the same work:
 * TLS 1.3 with {@link #CIPHER_SUITE}, a full handshake each time (no session resumption:
 * the generator's engines are made without a peer host and port, so the JDK keeps no
 * session to resume).
 */
public final class BenchTls {
    /** The password of the generated PKCS#12 file and its key: not a secret, the key is thrown away. */
    public static final String PASSWORD = "selectloop-bench";
    public static final String PROTOCOL = "TLSv1.3";
    /** TLS 1.3's mandatory-to-implement suite (RFC 8446 §9.1); AES-GCM has CPU intrinsics in HotSpot. */
    public static final String CIPHER_SUITE = "TLS_AES_128_GCM_SHA256";
    static final String KEY_ALIAS = "bench";

    private BenchTls() {
    }

    /** A server's key material: Netty wants the key managers, the JDK servers the context. */
    public record ServerKeys(KeyManagerFactory keyManagers, SSLContext context) {
    }

    /**
     * Runs {@code keytool -genkeypair} of the JDK running this and returns the PKCS#12 file
     * it wrote in {@code dir} (about a second).
     */
    public static Path generateKeyStore(Path dir) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Path keyStore = dir.resolve("bench-server.p12");
        Files.deleteIfExists(keyStore);
        Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
        List<String> command = List.of(keytool.toString(), "-genkeypair", "-noprompt",
                "-alias", KEY_ALIAS, "-keyalg", "RSA", "-keysize", "2048", "-sigalg", "SHA256withRSA",
                "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-validity", "7",
                "-storetype", "PKCS12", "-keystore", keyStore.toString(),
                "-storepass", PASSWORD, "-keypass", PASSWORD);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        int status = p.waitFor();
        if (status != 0 || !Files.isRegularFile(keyStore)) {
            throw new IOException("keytool failed (status " + status + "): " + output);
        }
        return keyStore;
    }

    /** The server key material in {@code keyStore}, a PKCS#12 file protected by {@link #PASSWORD}. */
    public static ServerKeys serverKeys(Path keyStore) throws IOException, GeneralSecurityException {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keyStore)) {
            store.load(in, PASSWORD.toCharArray());
        }
        KeyManagerFactory keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keyManagers.init(store, PASSWORD.toCharArray());
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(keyManagers.getKeyManagers(), null, null);
        return new ServerKeys(keyManagers, context);
    }

    /** Fresh key material in a temporary directory that is deleted again before this returns. */
    public static ServerKeys selfSignedServerKeys() throws IOException, GeneralSecurityException, InterruptedException {
        Path dir = Files.createTempDirectory("bench-tls");
        try {
            return serverKeys(generateKeyStore(dir));
        } finally {
            deleteTree(dir);
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        List<Path> paths = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(paths::add);
        }
        for (Path p : paths) {
            Files.deleteIfExists(p);
        }
    }

    /**
     * Makes this JVM's TLS clients offer one key share, x25519, instead of the JDK 17
     * client's two (x25519 and secp256r1), of which the server uses one: generating the
     * unused P-256 key was about 40% of the generator's CPU in a handshake churn (JFR). Every
     * server here picks x25519 from either offer. {@code jdk.tls.namedGroups} is read once, at
     * the JVM's first handshake, so this must run before it; left alone if set already.
     * Called by the load generator only: a server JVM keeps the JDK's defaults.
     */
    static void offerOnlyX25519() {
        if (System.getProperty("jdk.tls.namedGroups") == null) {
            System.setProperty("jdk.tls.namedGroups", "x25519");
        }
    }

    /**
     * The load generator's context. It does not authenticate the server: the generator
     * measures servers on loopback with a throwaway key, and checks every byte it gets
     * back; path validation of a one-certificate chain would only add to its own cost.
     * (The handshake's signature over the transcript is still verified by the engine.)
     */
    public static SSLContext clientContext() throws GeneralSecurityException {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, new TrustManager[] {new AcceptAnyServer()}, null);
        return context;
    }

    /** A client engine with the bench's fixed protocol and cipher suite, and no session to resume. */
    static SSLEngine clientEngine(SSLContext context) {
        SSLEngine engine = context.createSSLEngine();
        engine.setUseClientMode(true);
        SSLParameters parameters = engine.getSSLParameters();
        parameters.setProtocols(new String[] {PROTOCOL});
        parameters.setCipherSuites(new String[] {CIPHER_SUITE});
        engine.setSSLParameters(parameters);
        return engine;
    }

    /** Trusts whatever server certificate it is shown; see {@link #clientContext()}. */
    private static final class AcceptAnyServer extends X509ExtendedTrustManager {
        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws java.security.cert.CertificateException {
            throw new java.security.cert.CertificateException("the bench's load generator is never a server");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws java.security.cert.CertificateException {
            checkClientTrusted(chain, authType);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws java.security.cert.CertificateException {
            checkClientTrusted(chain, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
