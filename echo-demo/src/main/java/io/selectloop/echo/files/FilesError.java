package io.selectloop.echo.files;

/**
 * A request the server refuses: the {@code ERR CODE message} reply of
 * {@code docs/FILES-PROTOCOL.md}. Refusals are answers, not failures of the server, so
 * there is no stack trace to fill in.
 */
final class FilesError extends Exception {
    private final String code;

    FilesError(String code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    /** One of the {@code FilesProtocol.ERR_*} codes. */
    String code() {
        return code;
    }

    /** The reply line's text, without the framing: {@code ERR CODE message}. */
    String reply() {
        return "ERR " + code + " " + getMessage();
    }
}
