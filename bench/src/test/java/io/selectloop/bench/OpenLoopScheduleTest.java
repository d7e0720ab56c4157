package io.selectloop.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

class OpenLoopScheduleTest {
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    @Test
    void eventsAreEvenlySpacedAndDealtRoundRobin() {
        OpenLoopSchedule s = new OpenLoopSchedule(1_000, 1000, 4); // one event a millisecond over 4 connections
        assertEquals(0, s.eventsDue(999));
        assertEquals(1, s.eventsDue(1_000));
        assertEquals(1, s.eventsDue(1_000 + MS - 1));
        assertEquals(2, s.eventsDue(1_000 + MS));
        assertEquals(1_000 + 5 * MS, s.eventTime(5));
        assertEquals(1, s.slotOf(5));
        assertEquals(1, s.messageOf(5));
        assertEquals(s.eventTime(5), s.intendedTime(1, 1));
    }

    @Test
    void messagesDuePerConnectionAddUpToEventsDue() {
        OpenLoopSchedule s = new OpenLoopSchedule(0, 3000, 7);
        for (long now = 0; now < 50 * MS; now += 123_457) {
            long sum = 0;
            for (int slot = 0; slot < 7; slot++) {
                sum += s.messagesDue(slot, now);
            }
            assertEquals(s.eventsDue(now), sum, "at " + now);
        }
    }

    @Test
    void intendedTimeOfEveryMessageIsWhenItsEventFallsDue() {
        OpenLoopSchedule s = new OpenLoopSchedule(0, 2500, 3);
        for (long e = 0; e < 100; e++) {
            long t = s.intendedTime(s.slotOf(e), s.messageOf(e));
            assertEquals(e + 1, s.eventsDue(t), "event " + e);
        }
    }

    /**
     * 1000 msgs/s, a server that answers in 1 ms but stalls from 500 ms to 600 ms. Measured
     * from each message's intended send time, every message that should have gone out
     * during the stall carries its share of the wait (101 ms down to 2 ms). A closed-loop
     * tester measuring from the actual send sees a single slow message, because it simply
     * did not send while it waited: that is coordinated omission.
     */
    @Test
    void aStallIsChargedToEveryMessageThatShouldHaveBeenSentDuringIt() {
        OpenLoopSchedule s = new OpenLoopSchedule(0, 1000, 1);
        long stallStart = 500 * MS;
        long stallEnd = 600 * MS;
        Histogram corrected = new Histogram(1, TimeUnit.HOURS.toNanos(1), 3);
        for (long m = 0; m < 1000; m++) {
            long intended = s.intendedTime(0, m);
            long answered = intended >= stallStart && intended < stallEnd ? stallEnd + MS : intended + MS;
            corrected.recordValue(answered - intended);
        }
        Histogram naive = new Histogram(1, TimeUnit.HOURS.toNanos(1), 3);
        long now = 0;
        for (long m = 0; m < 1000; m++) {
            long answered = now >= stallStart && now < stallEnd ? stallEnd + MS : now + MS;
            naive.recordValue(answered - now);
            now = answered;
        }
        long slow = MS * 99 / 2; // 49.5 ms: between whole-millisecond latencies, clear of bucket edges
        long forever = TimeUnit.HOURS.toNanos(1);
        assertEquals(52, corrected.getCountBetweenValues(slow, forever)); // messages 500..551
        assertEquals(1, naive.getCountBetweenValues(slow, forever));
        assertEquals(101 * MS, corrected.getMaxValue(), 0.001 * 101 * MS);
        assertTrue(corrected.getValueAtPercentile(99) > 50 * MS);
        assertEquals(MS, naive.getValueAtPercentile(99), 0.001 * MS);
    }

    @Test
    void rejectsNonsense() {
        assertThrows(IllegalArgumentException.class, () -> new OpenLoopSchedule(0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new OpenLoopSchedule(0, 10, 0));
    }
}
