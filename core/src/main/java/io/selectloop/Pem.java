package io.selectloop;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Reads PEM files, as {@code openssl} writes them, into what the JDK's TLS wants, with
 * no dependency: certificate chains ({@code BEGIN CERTIFICATE}) and unencrypted PKCS#8
 * private keys ({@code BEGIN PRIVATE KEY}, RSA or EC). Anything else is refused with an
 * {@link IOException} whose one-line message names the file and says how to convert it.
 * Static methods, any thread.
 */
public final class Pem {
    private static final String KEY_BEGIN = "-----BEGIN PRIVATE KEY-----";
    private static final String KEY_END = "-----END PRIVATE KEY-----";

    private Pem() {
    }

    /** Every certificate in the file, in file order (a chain: the leaf first). */
    public static List<X509Certificate> readCertificates(Path file) throws IOException {
        byte[] bytes = read(file);
        List<X509Certificate> certs = new ArrayList<>();
        try {
            for (Certificate c : CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(bytes))) {
                certs.add((X509Certificate) c);
            }
        } catch (CertificateException e) {
            throw new IOException(file + ": not a PEM certificate file (" + e.getMessage() + ")", e);
        }
        if (certs.isEmpty()) {
            throw new IOException(file + ": no certificate in it (expected -----BEGIN CERTIFICATE-----)");
        }
        return certs;
    }

    /** The unencrypted PKCS#8 private key in the file, RSA or EC. */
    public static PrivateKey readPrivateKey(Path file) throws IOException {
        String text = new String(read(file), StandardCharsets.US_ASCII);
        if (text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || text.contains("Proc-Type: 4,ENCRYPTED")) {
            throw new IOException(file + ": the private key is encrypted, which is not supported; decrypt it with "
                    + "'openssl pkcs8 -topk8 -nocrypt -in " + file + " -out key.pem'");
        }
        int begin = text.indexOf(KEY_BEGIN);
        int end = begin < 0 ? -1 : text.indexOf(KEY_END, begin);
        if (begin < 0 || end < 0) {
            String found = text.contains("-----BEGIN RSA PRIVATE KEY-----") ? "a PKCS#1 RSA key"
                    : text.contains("-----BEGIN EC PRIVATE KEY-----") ? "a SEC1 EC key"
                    : "no PKCS#8 private key";
            throw new IOException(file + ": " + found + " where an unencrypted PKCS#8 key (-----BEGIN PRIVATE KEY-----) "
                    + "was expected; convert it with 'openssl pkcs8 -topk8 -nocrypt -in " + file + " -out key.pem'");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(text.substring(begin + KEY_BEGIN.length(), end).trim());
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": the private key is not valid base64", e);
        }
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
        for (String algorithm : new String[] {"RSA", "EC", "RSASSA-PSS", "Ed25519", "Ed448"}) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (InvalidKeySpecException | java.security.NoSuchAlgorithmException e) {
                // not this algorithm: try the next
            }
        }
        throw new IOException(file + ": unsupported private key type (RSA and EC keys are supported)");
    }

    /** A server's context: the certificate chain and key as its identity; with {@code clientCa}, trusting client certificates it issued. */
    public static SSLContext serverContext(Path certificateChain, Path privateKey, Path clientCa)
            throws IOException, GeneralSecurityException {
        return context(certificateChain, privateKey, clientCa);
    }

    /**
     * A client's context trusting the certificates in {@code ca} (null: the JDK's default
     * trust store); with a certificate chain and key (both or neither), it can show them
     * to a server that asks for a client certificate.
     */
    public static SSLContext clientContext(Path ca, Path certificateChain, Path privateKey)
            throws IOException, GeneralSecurityException {
        if ((certificateChain == null) != (privateKey == null)) {
            throw new IllegalArgumentException("a client certificate needs both its chain and its key");
        }
        return context(certificateChain, privateKey, ca);
    }

    private static SSLContext context(Path chain, Path key, Path trusted) throws IOException, GeneralSecurityException {
        KeyManagerFactory kmf = null;
        if (chain != null) {
            List<X509Certificate> certs = readCertificates(chain);
            PrivateKey privateKey = readPrivateKey(key);
            KeyStore keyStore = KeyStore.getInstance("PKCS12");
            keyStore.load(null, null);
            char[] none = new char[0];
            keyStore.setKeyEntry("key", privateKey, none, certs.toArray(new Certificate[0]));
            kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keyStore, none);
        }
        TrustManagerFactory tmf = null;
        if (trusted != null) {
            tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trustStore(trusted));
        }
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(kmf == null ? null : kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
        return context;
    }

    private static byte[] read(Path file) throws IOException {
        try {
            return Files.readAllBytes(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IOException(file + ": no such file", e);
        } catch (IOException e) {
            throw new IOException(file + ": cannot read it (" + e + ")", e);
        }
    }

    /** A key store holding every certificate of the file as a trusted one. */
    public static KeyStore trustStore(Path certificates) throws IOException, GeneralSecurityException {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        int i = 0;
        for (X509Certificate c : readCertificates(certificates)) {
            store.setCertificateEntry("ca-" + i++, c);
        }
        return store;
    }
}
