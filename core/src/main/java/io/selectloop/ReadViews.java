package io.selectloop;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The views of the loop's shared read buffer that {@code onData} receives, made once and
 * handed out again instead of one new slice per read (issue 14: the raw echo path
 * allocates nothing per message).
 *
 * <p>A view must end exactly at the bytes of this read: the rest of the shared buffer may
 * hold what another peer sent, and a handler that calls {@code clear()} on its view must
 * not reach it. So a view's capacity is its length, and a view of length {@code n} can
 * only be reused for another read of length {@code n}. The views are kept in a small
 * direct-mapped table indexed by length: steady traffic reads the same few lengths over
 * and over (an echo of 64-byte messages reads 64, 128, ...), and a length the table has
 * not got, or whose slot another length took, costs one slice as before. The table is
 * bounded, so odd lengths cannot make it grow.
 *
 * <p>A handed-out view is valid only during the call, which is {@code Handler.onData}'s
 * contract anyway: the next read on this loop may reset it. Loop thread only.
 */
final class ReadViews {
    private static final int SLOTS = 1024;

    private final ByteBuffer source;
    private final ByteBuffer[] bySize = new ByteBuffer[SLOTS];

    ReadViews(ByteBuffer source) {
        this.source = source;
    }

    /** A view of {@code source}'s bytes 0 .. length-1, position 0, big-endian, no mark. */
    ByteBuffer of(int length) {
        int slot = length & (SLOTS - 1);
        ByteBuffer view = bySize[slot];
        if (view == null || view.capacity() != length) {
            view = source.slice(0, length);
            bySize[slot] = view;
            return view;
        }
        // The previous handler may have moved, marked or re-ordered it.
        view.clear();
        view.order(ByteOrder.BIG_ENDIAN);
        return view;
    }
}
