package io.selectloop;

import java.io.IOException;

/**
 * The callback of a {@link Registration}: what Python's {@code selectors} keeps in
 * {@code SelectorKey.data} and calls when the file object is ready.
 *
 * <p>Called on the loop's thread only, once per wake-up in which the channel was
 * selected. If it throws, the exception is logged, the registration is cancelled and
 * its channel closed; the loop goes on serving everyone else.
 */
@FunctionalInterface
public interface IoHandler {
    /**
     * @param registration the registration that became ready
     * @param readyOps     the {@link java.nio.channels.SelectionKey} {@code OP_*} bits that are ready
     */
    void ready(Registration registration, int readyOps) throws IOException;
}
