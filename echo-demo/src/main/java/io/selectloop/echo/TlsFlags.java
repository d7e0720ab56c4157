package io.selectloop.echo;

import io.selectloop.Pem;
import io.selectloop.TlsOptions;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.security.KeyStore;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;
import picocli.CommandLine.Option;

/**
 * The TLS command-line flags, as picocli mixins: one set for every server of the jar (the
 * echo server, {@code files serve}) and one for every client (the echo client,
 * {@code files ls|put|get}), so that both programs take the same flags and build their
 * {@link SSLContext}s the same way. Parsed on the command's thread, before any loop starts.
 */
public final class TlsFlags {
    private TlsFlags() {
    }

    /** {@code --tls-cert CERT.pem --tls-key KEY.pem [--tls-client-ca CA.pem]}. */
    public static final class Server {
        @Option(names = "--tls-cert", paramLabel = "CERT.pem",
                description = "Serve TLS with this PEM certificate chain; needs --tls-key.")
        Path cert;

        @Option(names = "--tls-key", paramLabel = "KEY.pem",
                description = "The certificate's private key: unencrypted PKCS#8 PEM (BEGIN PRIVATE KEY), RSA or EC.")
        Path key;

        @Option(names = "--tls-client-ca", paramLabel = "CA.pem",
                description = "Require a client certificate issued by one of these PEM CA certificates.")
        Path clientCa;

        /**
         * The TLS settings the flags ask for; null without {@code --tls-cert}.
         *
         * @throws IllegalArgumentException for flags that do not go together, or files that
         *     cannot be read as PEM (the message names the file)
         */
        public TlsOptions options() {
            if (cert == null && key == null) {
                if (clientCa != null) {
                    throw new IllegalArgumentException("--tls-client-ca needs --tls-cert and --tls-key");
                }
                return null;
            }
            if (cert == null || key == null) {
                throw new IllegalArgumentException("--tls-cert and --tls-key go together");
            }
            try {
                return TlsOptions.server(Pem.serverContext(cert, key, clientCa))
                        .clientAuth(clientCa != null ? TlsOptions.ClientAuth.REQUIRED : TlsOptions.ClientAuth.NONE)
                        .build();
            } catch (IOException | GeneralSecurityException e) {
                throw new IllegalArgumentException(e.getMessage(), e);
            }
        }
    }

    /** {@code --tls [--tls-ca CA.pem | --tls-insecure] [--tls-cert CERT.pem --tls-key KEY.pem]}. */
    public static final class Client {
        @Option(names = "--tls", description = "Speak TLS to the server (a server started with --tls-cert).")
        boolean tls;

        @Option(names = "--tls-ca", paramLabel = "CA.pem",
                description = "With --tls: trust the server certificates these PEM certificates issued (or are) "
                        + "instead of the JVM's default trust store.")
        Path ca;

        @Option(names = "--tls-insecure",
                description = "With --tls: accept any server certificate, unchecked. For testing only.")
        boolean insecure;

        @Option(names = "--tls-cert", paramLabel = "CERT.pem",
                description = "With --tls: show this PEM client certificate chain to a server that requires one "
                        + "(--tls-client-ca); needs --tls-key.")
        Path cert;

        @Option(names = "--tls-key", paramLabel = "KEY.pem", description = "With --tls-cert: its unencrypted PKCS#8 PEM private key.")
        Path key;

        public boolean enabled() {
            return tls;
        }

        /** Whether the server's certificate must name the host connected to (all but {@code --tls-insecure}). */
        public boolean checksHostName() {
            return !insecure;
        }

        /**
         * The context the flags ask for (call only with {@link #enabled}).
         *
         * @throws IOException for flags that do not go together, or files that cannot be
         *     read as PEM, in a message fit for one line
         */
        public SSLContext context() throws IOException {
            if (ca != null && insecure) {
                throw new IOException("--tls-ca and --tls-insecure exclude each other");
            }
            if ((cert == null) != (key == null)) {
                throw new IOException("--tls-cert and --tls-key go together");
            }
            try {
                if (insecure) {
                    SSLContext unchecked = SSLContext.getInstance("TLS");
                    unchecked.init(cert == null ? null : keyManagers(cert, key), new TrustManager[] {new TrustEverything()}, null);
                    return unchecked;
                }
                return Pem.clientContext(ca, cert, key);
            } catch (GeneralSecurityException | IllegalArgumentException e) {
                throw new IOException("cannot set up TLS: " + e.getMessage(), e);
            }
        }

        /**
         * Client settings for a selectloop {@code StreamClient} to {@code host}: with the name
         * check (unless {@code --tls-insecure}), the host is sent as SNI and must be named by
         * the server's certificate, as HTTPS does.
         */
        public TlsOptions options(String host) throws IOException {
            TlsOptions.Builder builder = TlsOptions.client(context());
            if (checksHostName()) {
                builder.serverName(host);
            }
            return builder.build();
        }
    }

    private static KeyManager[] keyManagers(Path cert, Path key) throws IOException, GeneralSecurityException {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setKeyEntry("key", Pem.readPrivateKey(key), new char[0],
                Pem.readCertificates(cert).toArray(new java.security.cert.Certificate[0]));
        KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        factory.init(store, new char[0]);
        return factory.getKeyManagers();
    }

    /** {@code --tls-insecure}: checks nothing, as {@code curl -k}. */
    private static final class TrustEverything extends X509ExtendedTrustManager {
        @Override public void checkClientTrusted(X509Certificate[] chain, String authType) { }
        @Override public void checkServerTrusted(X509Certificate[] chain, String authType) { }
        @Override public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) { }
        @Override public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) { }
        @Override public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) { }
        @Override public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) { }
        @Override public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
    }
}
