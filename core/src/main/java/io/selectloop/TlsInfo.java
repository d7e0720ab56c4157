package io.selectloop;

import java.security.cert.Certificate;
import java.util.List;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * What a TLS connection's handshake negotiated (asyncio's {@code get_extra_info('ssl_object')}):
 * from {@link Connection#tls()}, available from {@link Handler#onOpen} on. A snapshot
 * taken when the handshake finished; immutable, any thread.
 */
public final class TlsInfo {
    private final String protocol;
    private final String cipherSuite;
    private final String applicationProtocol;
    private final List<Certificate> peerCertificates;
    private final SSLSession session;

    private TlsInfo(String protocol, String cipherSuite, String applicationProtocol,
                    List<Certificate> peerCertificates, SSLSession session) {
        this.protocol = protocol;
        this.cipherSuite = cipherSuite;
        this.applicationProtocol = applicationProtocol;
        this.peerCertificates = peerCertificates;
        this.session = session;
    }

    static TlsInfo of(SSLSession session, String applicationProtocol) {
        List<Certificate> peer;
        try {
            peer = List.of(session.getPeerCertificates());
        } catch (SSLPeerUnverifiedException e) {
            peer = List.of(); // a client without a certificate, or an anonymous suite
        }
        return new TlsInfo(session.getProtocol(), session.getCipherSuite(),
                applicationProtocol == null || applicationProtocol.isEmpty() ? null : applicationProtocol, peer, session);
    }

    /** Such as {@code TLSv1.3}. */
    public String protocol() { return protocol; }

    /** Such as {@code TLS_AES_256_GCM_SHA384}. */
    public String cipherSuite() { return cipherSuite; }

    /** The ALPN protocol agreed on; null if none was. */
    public String applicationProtocol() { return applicationProtocol; }

    /** The peer's certificate chain, its own first; empty if it sent none. */
    public List<Certificate> peerCertificates() { return peerCertificates; }

    /** The JDK's session, for anything else (SNI names asked for, local certificates). */
    public SSLSession session() { return session; }

    @Override
    public String toString() {
        return protocol + " " + cipherSuite + (applicationProtocol != null ? " alpn=" + applicationProtocol : "");
    }
}
