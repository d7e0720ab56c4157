package io.selectloop;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A PROXY protocol header (HAProxy's {@code proxy-protocol.txt}, version 1 or 2) as
 * received at the start of a connection: the client and server addresses the balancer
 * saw, and, in version 2, its TLVs. Immutable; any thread. See {@link ProxyProtocol}.
 */
public final class ProxyHeader {
    /** {@code PP2_TYPE_ALPN}: the application protocol the client negotiated with the balancer. */
    public static final int TLV_ALPN = 0x01;
    /** {@code PP2_TYPE_AUTHORITY}: the host name the client asked for (TLS SNI). */
    public static final int TLV_AUTHORITY = 0x02;
    /** {@code PP2_TYPE_CRC32C}: a checksum of the header (not checked here). */
    public static final int TLV_CRC32C = 0x03;
    /** {@code PP2_TYPE_NOOP}: padding. */
    public static final int TLV_NOOP = 0x04;
    /** {@code PP2_TYPE_UNIQUE_ID}: the balancer's identifier for the connection. */
    public static final int TLV_UNIQUE_ID = 0x05;
    /** {@code PP2_TYPE_SSL}: what the balancer knows about the client's TLS. */
    public static final int TLV_SSL = 0x20;
    /** {@code PP2_TYPE_NETNS}: the network namespace the connection came from. */
    public static final int TLV_NETNS = 0x30;

    /** One type-length-value entry of a version 2 header. */
    public static final class Tlv {
        private final int type;
        private final byte[] value;

        public Tlv(int type, byte[] value) {
            this.type = type;
            this.value = value.clone();
        }

        /** 0 to 255. */
        public int type() {
            return type;
        }

        /** A copy of the value. */
        public byte[] value() {
            return value.clone();
        }

        @Override
        public String toString() {
            return "Tlv[0x" + Integer.toHexString(type) + ", " + value.length + " bytes]";
        }
    }

    private final int version;
    private final InetSocketAddress source;
    private final InetSocketAddress destination;
    private final List<Tlv> tlvs;

    ProxyHeader(int version, InetSocketAddress source, InetSocketAddress destination, List<Tlv> tlvs) {
        this.version = version;
        this.source = source;
        this.destination = destination;
        this.tlvs = List.copyOf(tlvs);
    }

    /** 1 (the text header) or 2 (the binary one). */
    public int version() {
        return version;
    }

    /**
     * The client's address as the balancer saw it; null when the header carries none
     * ({@code UNKNOWN}, {@code LOCAL}, or a family other than TCP over IPv4/IPv6), and the
     * connection then keeps its socket's own addresses.
     */
    public InetSocketAddress sourceAddress() {
        return source;
    }

    /** The address the client connected to on the balancer; null as for {@link #sourceAddress()}. */
    public InetSocketAddress destinationAddress() {
        return destination;
    }

    /** True when the header carries the client's addresses. */
    public boolean hasAddresses() {
        return source != null;
    }

    /** The version 2 TLVs in the order received (empty for version 1). */
    public List<Tlv> tlvs() {
        return tlvs;
    }

    /** The value of the first TLV of this type, or null. */
    public byte[] tlv(int type) {
        for (Tlv t : tlvs) {
            if (t.type == type) {
                return t.value();
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return "ProxyHeader[v" + version + (source == null ? ", no addresses" : ", " + source + " -> " + destination)
                + (tlvs.isEmpty() ? "" : ", " + tlvs) + "]";
    }

    static List<Tlv> newTlvList() {
        return new ArrayList<>();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ProxyHeader)) {
            return false;
        }
        ProxyHeader h = (ProxyHeader) o;
        if (h.version != version || !java.util.Objects.equals(h.source, source)
                || !java.util.Objects.equals(h.destination, destination) || h.tlvs.size() != tlvs.size()) {
            return false;
        }
        for (int i = 0; i < tlvs.size(); i++) {
            if (tlvs.get(i).type != h.tlvs.get(i).type || !Arrays.equals(tlvs.get(i).value, h.tlvs.get(i).value)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(version, source, destination, tlvs.size());
    }
}
