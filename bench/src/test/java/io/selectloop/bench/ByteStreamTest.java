package io.selectloop.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class ByteStreamTest {

    @Test
    void fillMatchesByteAtForEveryAlignment() {
        long seed = 42;
        for (int offset = 0; offset < 20; offset++) {
            for (int length = 0; length < 40; length++) {
                ByteBuffer buffer = ByteBuffer.allocate(length);
                ByteStream.fill(seed, offset, buffer, length);
                for (int i = 0; i < length; i++) {
                    assertEquals(ByteStream.byteAt(seed, offset + i), buffer.get(i), "offset " + offset + " byte " + i);
                }
            }
        }
    }

    @Test
    void verifyingWhatWasFilledFindsNoMismatchAndConsumesTheBytes() {
        ByteBuffer buffer = ByteBuffer.allocateDirect(1000);
        ByteStream.fill(7, 13, buffer, 1000);
        buffer.flip();
        assertEquals(0, ByteStream.countMismatches(7, 13, buffer, 1000));
        assertEquals(0, buffer.remaining());
    }

    @Test
    void everyFlippedByteIsCountedWhereverItIs() {
        for (int flipped = 0; flipped < 64; flipped++) {
            ByteBuffer buffer = ByteBuffer.allocate(64);
            ByteStream.fill(99, 5, buffer, 64);
            buffer.put(flipped, (byte) (buffer.get(flipped) ^ 1));
            buffer.flip();
            assertEquals(1, ByteStream.countMismatches(99, 5, buffer, 64), "flipped byte " + flipped);
        }
    }

    @Test
    void bytesFromTheWrongPlaceOfTheStreamDoNotPass() {
        // A server that echoes an earlier message instead of the current one.
        ByteBuffer earlier = ByteBuffer.allocate(64);
        ByteStream.fill(1, 0, earlier, 64);
        earlier.flip();
        assertNotEquals(0, ByteStream.countMismatches(1, 64, earlier, 64));
    }

    @Test
    void differentSeedsGiveDifferentStreams() {
        ByteBuffer a = ByteBuffer.allocate(64);
        ByteStream.fill(1, 0, a, 64);
        a.flip();
        assertNotEquals(0, ByteStream.countMismatches(2, 0, a, 64));
    }
}
