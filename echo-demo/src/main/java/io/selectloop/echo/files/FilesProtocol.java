package io.selectloop.echo.files;

import io.selectloop.Connection;
import io.selectloop.Framing;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/**
 * The constants of the files protocol, {@code docs/FILES-PROTOCOL.md}: a frame is a 4-byte
 * big-endian length and that many bytes; requests and replies are UTF-8 text frames; a
 * download's bytes follow its {@code OK} reply unframed, so the server can send them with
 * {@code sendFile}.
 */
final class FilesProtocol {
    private FilesProtocol() {
    }

    /** Largest frame payload in either direction; a longer one is a protocol error. */
    static final int MAX_FRAME = 65536;
    /** One framing for both ends; its {@code write} adds the header and may be called from any thread. */
    static final Framing FRAMING = Framing.lengthPrefixed(4, MAX_FRAME);

    /** Longest path, in UTF-8 bytes. */
    static final int MAX_PATH_BYTES = 1024;
    /** Longest path component, in UTF-8 bytes (the usual file system limit). */
    static final int MAX_NAME_BYTES = 255;
    /** Most entries one {@code LS} lists; the {@code END} reply says when there were more. */
    static final int MAX_LISTING = 10_000;

    static final String ERR_BAD_REQUEST = "BAD_REQUEST";
    static final String ERR_BAD_PATH = "BAD_PATH";
    static final String ERR_NOT_FOUND = "NOT_FOUND";
    static final String ERR_NOT_A_FILE = "NOT_A_FILE";
    static final String ERR_TOO_LARGE = "TOO_LARGE";
    static final String ERR_BUSY = "BUSY";
    static final String ERR_FULL = "FULL";
    static final String ERR_CHECKSUM = "CHECKSUM";
    static final String ERR_IO = "IO";

    /** The name a partial upload or download has until it is verified: {@code .NAME.part} beside it. */
    static String partName(String name) {
        return "." + name + ".part";
    }

    static void send(Connection c, String text) {
        FRAMING.write(c, text.getBytes(StandardCharsets.UTF_8));
    }

    static String hex(byte[] digest) {
        return HexFormat.of().formatHex(digest);
    }
}
