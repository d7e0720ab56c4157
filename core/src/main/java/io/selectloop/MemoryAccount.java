package io.selectloop;

/**
 * What one connection holds of its loop's {@link MemoryBudget}, so that the loop can
 * find the largest holders when the budget runs short. Loop thread only.
 */
final class MemoryAccount {
    final MemoryBudget budget;
    private long held;

    MemoryAccount(MemoryBudget budget) {
        this.budget = budget;
    }

    /**
     * The account a framing decoder charges its partial frames to: the connection's own,
     * or, for a {@link Connection} implemented outside this package, a fresh one on the
     * connection's loop budget (still counted, just not shed).
     */
    static MemoryAccount of(Connection c) {
        return c instanceof StreamConnection ? ((StreamConnection) c).memory() : new MemoryAccount(c.loop().memoryBudget());
    }

    void charge(long bytes) {
        held += bytes;
        budget.charge(bytes);
    }

    void release(long bytes) {
        held -= bytes;
        budget.release(bytes);
    }

    long held() {
        return held;
    }
}
