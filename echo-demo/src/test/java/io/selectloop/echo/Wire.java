package io.selectloop.echo;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Random;

/**
 * The demo's three framings as a client sees them: frames a well-behaved peer sends
 * (they come back byte for byte), garbage a hostile peer sends, and an oracle for what
 * the demo must echo for any input. Written from the wire format, independently of the
 * core's decoders, so that it can judge them.
 */
enum Wire {
    RAW, LINE, LENGTH;

    /** The {@code --framing} value. */
    String flag() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Size of every well-behaved frame: fixed, so a stream position maps to a frame by division. */
    int frameSize() {
        switch (this) {
            case LINE:
                return 17; // 16 hex digits and \n
            case LENGTH:
                return 12; // a 4-byte header saying 8, then 8 bytes
            default:
                return 8;
        }
    }

    /**
     * Well-behaved frame number {@code i}: it carries {@code i}, so a lost, repeated or
     * reordered frame shows in the echo, and it is echoed unchanged in every framing.
     */
    void putFrame(long i, ByteBuffer dst) {
        switch (this) {
            case LINE:
                dst.put(String.format("%016x\n", i).getBytes(StandardCharsets.US_ASCII));
                break;
            case LENGTH:
                dst.putInt(8).putLong(i);
                break;
            default:
                dst.putLong(i);
        }
    }

    byte[] frame(long i) {
        ByteBuffer b = ByteBuffer.allocate(frameSize());
        putFrame(i, b);
        return b.array();
    }

    /** Frames 0, 1, 2, ... back to back: what a well-behaved streaming peer sends. */
    PeerSwarm.ByteSource wellBehavedStream() {
        int size = frameSize();
        return (position, max) -> {
            long first = position / size;
            int skip = (int) (position % size);
            int frames = (skip + max + size - 1) / size;
            ByteBuffer b = ByteBuffer.allocate(frames * size);
            for (int k = 0; k < frames; k++) {
                putFrame(first + k, b);
            }
            return b.flip().position(skip).limit(skip + max);
        };
    }

    /**
     * Garbage built to hurt this framing, different for each {@code seed}: random bytes,
     * and for the framings that parse, a few good frames first (their answers must still
     * arrive) and then what each decoder finds hardest: for lines, CR runs before LF (a
     * line ending in CR cannot be echoed as a line), NULs, lone CRs, a run with no LF longer
     * than the longest line; for length framing, headers of 0, the maximum + 1, 2^31 - 1,
     * and 0xFFFFFFFF (negative as a signed int).
     */
    byte[] garbage(long seed, int maxFrame, int randomBytes) {
        Random random = new Random(seed);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] noise = new byte[randomBytes];
        random.nextBytes(noise);
        int kind = (int) Math.floorMod(seed, 4);
        switch (this) {
            case LINE:
                for (int i = 0; i < 3; i++) {
                    out.writeBytes(frame(seed * 10 + i));
                }
                if (kind == 1) {
                    out.writeBytes("a\r\r\n".getBytes(StandardCharsets.US_ASCII));
                } else if (kind == 2) {
                    out.writeBytes("\0\r\0\r\n\r\n\n\r\r".getBytes(StandardCharsets.US_ASCII));
                } else if (kind == 3) {
                    byte[] noLf = new byte[maxFrame + 2];
                    java.util.Arrays.fill(noLf, (byte) 'x');
                    out.writeBytes(noLf);
                }
                out.writeBytes(noise);
                break;
            case LENGTH:
                for (int i = 0; i < 3; i++) {
                    out.writeBytes(frame(seed * 10 + i));
                }
                int[] headers = {0, maxFrame + 1, Integer.MAX_VALUE, 0xFFFFFFFF};
                out.writeBytes(ByteBuffer.allocate(4).putInt(headers[kind]).array());
                out.writeBytes(noise);
                break;
            default:
                out.writeBytes(noise);
        }
        return out.toByteArray();
    }

    /**
     * What the demo must send back for {@code input} followed by end of input: the echo of
     * every frame up to the first one the framing cannot carry (longer than
     * {@code maxFrame}, a bad header), and nothing for a
     * partial frame at the end. A line is echoed as it came, less the one CR its line
     * ending may have, then LF (so {@code a\r\r\n} comes back as {@code a\r\n}). The demo may close the connection at that first bad
     * frame, but only after everything before it has been sent.
     */
    byte[] expectedEcho(byte[] input, int maxFrame) {
        ByteArrayOutputStream echo = new ByteArrayOutputStream();
        switch (this) {
            case LINE: {
                int start = 0;
                for (int i = 0; i < input.length; i++) {
                    if (input[i] != '\n') {
                        if (i - start > maxFrame + 1) {
                            return echo.toByteArray(); // too long, whatever follows
                        }
                        continue;
                    }
                    int end = i > start && input[i - 1] == '\r' ? i - 1 : i;
                    if (end - start > maxFrame) {
                        return echo.toByteArray();
                    }
                    echo.write(input, start, end - start);
                    echo.write('\n');
                    start = i + 1;
                }
                return echo.toByteArray();
            }
            case LENGTH: {
                ByteBuffer in = ByteBuffer.wrap(input);
                while (in.remaining() >= 4) {
                    long length = Integer.toUnsignedLong(in.getInt(in.position()));
                    if (length > maxFrame || in.remaining() - 4 < length) {
                        break;
                    }
                    echo.write(input, in.position(), 4 + (int) length);
                    in.position(in.position() + 4 + (int) length);
                }
                return echo.toByteArray();
            }
            default:
                return input.clone();
        }
    }
}
