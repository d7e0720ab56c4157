package io.selectloop.bench;

/**
 * Turns SIGINT/SIGTERM into a callback so the main thread can shut down gracefully and
 * exit with status 0. A JVM shutdown hook alone would run the same code, but the
 * process would then exit with 130/143 as if it had failed.
 */
final class Signals {
    private Signals() {
    }

    static void onTerminate(Runnable action) {
        for (String name : new String[] {"INT", "TERM"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), signal -> action.run());
            } catch (IllegalArgumentException | UnsupportedOperationException e) {
                // The signal is reserved on this platform: fall back to a shutdown hook.
                Runtime.getRuntime().addShutdownHook(new Thread(action, "shutdown-" + name));
            }
        }
    }
}
