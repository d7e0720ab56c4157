package io.selectloop.bench;

import java.nio.ByteBuffer;

/**
 * The bytes a connection sends: an endless pseudo-random stream fixed by a seed, so that
 * the byte at any offset can be computed again when its echo comes back. Every message
 * differs from the one before it, so a server that echoed an old message, dropped,
 * repeated or reordered bytes would be caught, not just one that flipped a bit.
 *
 * <p>Byte {@code p} is byte {@code p % 8} of {@code mix(seed, p / 8)}, a SplitMix64 step:
 * one multiply-xorshift per eight bytes, cheap next to the system calls around it.
 */
final class ByteStream {
    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

    private ByteStream() {
    }

    /** The eight bytes at word {@code index} of the stream for {@code seed}. */
    static long word(long seed, long index) {
        long z = seed + (index + 1) * GOLDEN_GAMMA;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** The byte at {@code offset} of the stream for {@code seed}. */
    static byte byteAt(long seed, long offset) {
        return (byte) (word(seed, offset >>> 3) >>> ((offset & 7) << 3));
    }

    /** Puts {@code length} bytes of the stream, starting at {@code offset}, into {@code dst}. */
    static void fill(long seed, long offset, ByteBuffer dst, int length) {
        long p = offset;
        long end = offset + length;
        while (p < end && (p & 7) != 0) {
            dst.put(byteAt(seed, p++));
        }
        while (end - p >= 8) {
            dst.putLong(Long.reverseBytes(word(seed, p >>> 3)));
            p += 8;
        }
        while (p < end) {
            dst.put(byteAt(seed, p++));
        }
    }

    /**
     * Consumes {@code length} bytes of {@code src} and compares them with the stream from
     * {@code offset}; returns how many differ.
     */
    static int countMismatches(long seed, long offset, ByteBuffer src, int length) {
        int mismatches = 0;
        long p = offset;
        long end = offset + length;
        while (p < end && (p & 7) != 0) {
            if (src.get() != byteAt(seed, p++)) {
                mismatches++;
            }
        }
        while (end - p >= 8) {
            long expected = Long.reverseBytes(word(seed, p >>> 3));
            long actual = src.getLong();
            if (actual != expected) {
                mismatches += differingBytes(actual ^ expected);
            }
            p += 8;
        }
        while (p < end) {
            if (src.get() != byteAt(seed, p++)) {
                mismatches++;
            }
        }
        return mismatches;
    }

    private static int differingBytes(long xor) {
        int n = 0;
        for (int i = 0; i < 8; i++) {
            if (((xor >>> (i * 8)) & 0xFF) != 0) {
                n++;
            }
        }
        return n;
    }
}
