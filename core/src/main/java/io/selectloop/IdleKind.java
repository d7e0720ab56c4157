package io.selectloop;

/** Which idle timeout expired: see {@link StreamOptions.Builder#readIdleTimeout}. */
public enum IdleKind {
    /** Nothing was read for the read-idle timeout. */
    READ,
    /** Nothing was written for the write-idle timeout. */
    WRITE,
    /** Nothing was read or written for the all-idle timeout. */
    ALL
}
