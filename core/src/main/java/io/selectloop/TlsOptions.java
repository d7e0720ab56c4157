package io.selectloop;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * TLS for a stream server or client: set with {@link StreamOptions.Builder#tls}. The
 * connection then speaks TLS on the same socket and the {@link Handler} sees plaintext
 * exactly as without TLS; {@link Handler#onOpen} runs once the handshake is done, and
 * {@link Connection#tls()} tells what it negotiated. Immutable, so any thread may use one.
 *
 * <pre>{@code
 * SSLContext context = Pem.serverContext(Path.of("cert.pem"), Path.of("key.pem"), null);
 * StreamOptions options = StreamOptions.builder().tls(TlsOptions.server(context).build()).build();
 * StreamServer.bind(loop, address, options, () -> (c, data) -> c.write(data));
 * }</pre>
 *
 * <p>Settings left unset keep the {@link SSLContext}'s defaults (protocols, cipher
 * suites). The handshake never runs on the loop thread's time more than wrapping and
 * unwrapping takes: the engine's delegated tasks (key exchange, certificate checks) run
 * on {@link Builder#delegatedTaskExecutor}, and a peer that does not finish the
 * handshake within {@link Builder#handshakeTimeout} is disconnected.
 */
public final class TlsOptions {
    /** Long enough for a slow client over a bad link; short enough that stalled peers do not pile up. */
    static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

    /** Whether a server asks for, or insists on, a client certificate. */
    public enum ClientAuth {
        /** No client certificate is asked for (the default). */
        NONE,
        /** A client certificate is asked for; a client without one is still accepted. */
        OPTIONAL,
        /** A client without a certificate the trust managers accept fails the handshake. */
        REQUIRED
    }

    private final SSLContext context;
    private final boolean client;
    private final List<String> protocols;
    private final List<String> cipherSuites;
    private final List<String> applicationProtocols;
    private final String serverName;
    private final ClientAuth clientAuth;
    private final long handshakeTimeoutNanos;
    private final Executor delegatedTaskExecutor;

    private TlsOptions(Builder b) {
        context = b.context;
        client = b.client;
        protocols = b.protocols;
        cipherSuites = b.cipherSuites;
        applicationProtocols = b.applicationProtocols;
        serverName = b.serverName;
        clientAuth = b.clientAuth;
        handshakeTimeoutNanos = b.handshakeTimeout.toNanos();
        delegatedTaskExecutor = b.delegatedTaskExecutor;
    }

    /** Settings for the server side of TLS, with {@code context}'s key managers as its identity. */
    public static Builder server(SSLContext context) {
        return new Builder(context, false);
    }

    /** Settings for the client side of TLS, with {@code context}'s trust managers checking the server. */
    public static Builder client(SSLContext context) {
        return new Builder(context, true);
    }

    public SSLContext context() { return context; }
    /** True for {@link #client}, false for {@link #server}. */
    public boolean isClient() { return client; }
    /** Empty: the context's defaults. */
    public List<String> protocols() { return protocols; }
    /** Empty: the context's defaults. */
    public List<String> cipherSuites() { return cipherSuites; }
    /** ALPN protocols, in preference order; empty: no ALPN. */
    public List<String> applicationProtocols() { return applicationProtocols; }
    /** The client's SNI host name, also checked against the server's certificate; null if unset. */
    public String serverName() { return serverName; }
    public ClientAuth clientAuth() { return clientAuth; }
    /** {@link Duration#ZERO} when off. */
    public Duration handshakeTimeout() { return Duration.ofNanos(handshakeTimeoutNanos); }
    /** Null: the shared bounded default. */
    public Executor delegatedTaskExecutor() { return delegatedTaskExecutor; }

    long handshakeTimeoutNanos() {
        return handshakeTimeoutNanos;
    }

    Executor taskExecutor() {
        return delegatedTaskExecutor != null ? delegatedTaskExecutor : TlsTaskExecutor.shared();
    }

    /**
     * Refuses client settings on a server and the reverse, and settings the context
     * rejects (an unknown protocol name), at bind or connect rather than per connection.
     */
    static void check(StreamOptions options, boolean forClient) {
        TlsOptions tls = options.tls();
        if (tls == null) {
            return;
        }
        if (tls.client != forClient) {
            throw new IllegalArgumentException(forClient
                    ? "a client needs TlsOptions.client(...), not TlsOptions.server(...)"
                    : "a server needs TlsOptions.server(...), not TlsOptions.client(...)");
        }
        tls.newEngine(null, -1);
    }

    /** A fresh engine with these settings; the peer's address is a hint for session resumption. */
    SSLEngine newEngine(String peerHost, int peerPort) {
        SSLEngine engine = client && serverName != null ? context.createSSLEngine(serverName, peerPort)
                : peerHost != null ? context.createSSLEngine(peerHost, peerPort) : context.createSSLEngine();
        engine.setUseClientMode(client);
        SSLParameters params = engine.getSSLParameters();
        if (!protocols.isEmpty()) {
            params.setProtocols(protocols.toArray(new String[0]));
        }
        if (!cipherSuites.isEmpty()) {
            params.setCipherSuites(cipherSuites.toArray(new String[0]));
        }
        if (!applicationProtocols.isEmpty()) {
            params.setApplicationProtocols(applicationProtocols.toArray(new String[0]));
        }
        if (client) {
            if (serverName != null) {
                params.setServerNames(List.of(new SNIHostName(serverName)));
                params.setEndpointIdentificationAlgorithm("HTTPS");
            }
        } else {
            params.setNeedClientAuth(clientAuth == ClientAuth.REQUIRED);
            if (clientAuth == ClientAuth.OPTIONAL) {
                params.setWantClientAuth(true);
            }
        }
        engine.setSSLParameters(params);
        return engine;
    }

    @Override
    public String toString() {
        return "TlsOptions[" + (client ? "client" : "server") + ", protocols=" + protocols + ", cipherSuites="
                + cipherSuites + ", applicationProtocols=" + applicationProtocols + ", serverName=" + serverName
                + ", clientAuth=" + clientAuth + ", handshakeTimeout=" + handshakeTimeout() + "]";
    }

    /** Builds {@link TlsOptions}. Not thread-safe; build on one thread. */
    public static final class Builder {
        private final SSLContext context;
        private final boolean client;
        private List<String> protocols = List.of();
        private List<String> cipherSuites = List.of();
        private List<String> applicationProtocols = List.of();
        private String serverName;
        private ClientAuth clientAuth = ClientAuth.NONE;
        private Duration handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT;
        private Executor delegatedTaskExecutor;

        private Builder(SSLContext context, boolean client) {
            this.context = Objects.requireNonNull(context, "context");
            this.client = client;
        }

        /** Enabled protocols, such as {@code "TLSv1.3", "TLSv1.2"}. Default: the context's. */
        public Builder protocols(String... names) {
            protocols = List.of(names);
            return this;
        }

        /** Enabled cipher suites. Default: the context's. */
        public Builder cipherSuites(String... names) {
            cipherSuites = List.of(names);
            return this;
        }

        /**
         * ALPN protocol names in preference order ({@code "h2", "http/1.1"}): a client
         * offers them, a server picks the first of its own that the client offers.
         * Default none.
         */
        public Builder applicationProtocols(String... names) {
            applicationProtocols = List.of(names);
            return this;
        }

        /**
         * Clients only: the host name sent as SNI, and checked against the server's
         * certificate (as HTTPS does). Default none: no SNI, and only the certificate
         * chain is checked against the trust managers, not the name in it.
         */
        public Builder serverName(String hostName) {
            if (!client) {
                throw new IllegalStateException("serverName is a client setting");
            }
            serverName = hostName;
            return this;
        }

        /** Servers only: whether to ask for a client certificate. Default {@link ClientAuth#NONE}. */
        public Builder clientAuth(ClientAuth auth) {
            if (client) {
                throw new IllegalStateException("clientAuth is a server setting");
            }
            clientAuth = Objects.requireNonNull(auth, "auth");
            return this;
        }

        /**
         * How long the handshake may take from the moment the connection is accepted or
         * connected; past it the connection is closed with an
         * {@link javax.net.ssl.SSLHandshakeException}. Default 10 s; {@link Duration#ZERO}
         * turns it off.
         */
        public Builder handshakeTimeout(Duration timeout) {
            if (timeout == null || timeout.isNegative()) {
                throw new IllegalArgumentException("handshakeTimeout must be zero (off) or positive, was " + timeout);
            }
            handshakeTimeout = timeout.compareTo(Duration.ofDays(36_500)) > 0 ? Duration.ofDays(36_500) : timeout;
            return this;
        }

        /**
         * Where the engine's delegated tasks run (the expensive parts of a handshake).
         * Must not run them on a loop thread. Default: a shared pool of one thread per
         * processor with a bounded queue; a connection whose task the pool refuses is closed.
         */
        public Builder delegatedTaskExecutor(Executor executor) {
            delegatedTaskExecutor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        public TlsOptions build() {
            return new TlsOptions(this);
        }
    }
}
