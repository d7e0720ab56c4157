package io.selectloop.bench;

/**
 * When each message of an open-loop (fixed-rate) run is meant to be sent, as wrk2 does it.
 *
 * <p>One generator thread sends {@code ratePerSecond} messages a second, spread evenly
 * over its {@code slots} connections: event {@code e} is due at
 * {@code start + e / rate}, and goes to connection {@code e % slots} as that connection's
 * message number {@code e / slots}. Latency is measured from that intended time, not from
 * when the message actually left: if the server stalls, the messages that should have gone
 * out during the stall are charged for the time they waited, which a closed-loop tester
 * (that simply stops sending while it waits) would hide. That is the coordinated-omission
 * correction.
 */
final class OpenLoopSchedule {
    private final long startNanos;
    private final double nanosPerEvent;
    private final int slots;

    OpenLoopSchedule(long startNanos, double ratePerSecond, int slots) {
        if (!(ratePerSecond > 0)) {
            throw new IllegalArgumentException("rate must be positive, was " + ratePerSecond);
        }
        if (slots < 1) {
            throw new IllegalArgumentException("an open-loop schedule needs at least one connection");
        }
        this.startNanos = startNanos;
        this.nanosPerEvent = 1e9 / ratePerSecond;
        this.slots = slots;
    }

    /** How many events are due at {@code now}: those whose intended time is not after it. */
    long eventsDue(long nowNanos) {
        long elapsed = nowNanos - startNanos;
        if (elapsed < 0) {
            return 0;
        }
        return (long) Math.floor(elapsed / nanosPerEvent) + 1;
    }

    /** The intended send time of event {@code event}. */
    long eventTime(long event) {
        return startNanos + Math.round(event * nanosPerEvent);
    }

    /** The connection (0 .. slots-1) that sends event {@code event}. */
    int slotOf(long event) {
        return (int) (event % slots);
    }

    /** Which of its connection's messages event {@code event} is. */
    long messageOf(long event) {
        return event / slots;
    }

    /** The intended send time of message {@code message} of connection {@code slot}. */
    long intendedTime(int slot, long message) {
        return eventTime(message * slots + slot);
    }

    /** How many messages connection {@code slot} should have started by {@code now}. */
    long messagesDue(int slot, long nowNanos) {
        long due = eventsDue(nowNanos);
        return due <= slot ? 0 : (due - slot - 1) / slots + 1;
    }

    int slots() {
        return slots;
    }
}
