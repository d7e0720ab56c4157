package io.selectloop.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ProcStatsTest {

    @Test
    void cpuTicksAreUtimePlusStimeEvenWithAnAwkwardCommandName() {
        String stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 731 269 0 0 20 0 12 0 555 0 0";
        assertEquals(1000, ProcStats.cpuTicks(stat));
    }

    @Test
    void samplesThisProcess() throws Exception {
        ProcStats stats = ProcStats.sample(ProcessHandle.current().pid());
        assertTrue(stats.rssBytes() > 0, "rss " + stats.rssBytes());
        assertTrue(stats.threads() > 1, "threads " + stats.threads());
        assertTrue(stats.cpuTicks() >= 0);
    }
}
