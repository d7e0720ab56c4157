package io.selectloop;

import java.io.IOException;

/**
 * The loop's {@link MemoryBudget} ran out and this connection was among the largest
 * holders, over its fair share, so it was closed to keep the process alive and
 * everyone else served.
 */
public final class MemoryBudgetExceededException extends IOException {
    public MemoryBudgetExceededException(String message) {
        super(message);
    }
}
