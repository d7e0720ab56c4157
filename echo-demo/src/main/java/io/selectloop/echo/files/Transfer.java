package io.selectloop.echo.files;

/**
 * What a finished {@code put} or {@code get} did.
 *
 * @param size the file's size
 * @param resumedAt bytes that were already on the receiving side and were not sent again
 * @param transferred bytes this run moved over the connection ({@code size - resumedAt})
 * @param sha256 the verified checksum, as lower-case hex
 */
record Transfer(long size, long resumedAt, long transferred, String sha256) {
}
