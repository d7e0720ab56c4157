package io.selectloop.echo.files;

import io.selectloop.Connection;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** {@code LS}: collects the {@code ENTRY} replies until {@code END}. */
final class ListExchange extends Exchange<List<String>> {
    private final String path;
    private final List<String> lines = new ArrayList<>();

    ListExchange(String path) {
        this.path = path;
    }

    @Override
    public void onOpen(Connection c) {
        send(c, "LS " + path);
    }

    @Override
    void onReply(Connection c, String reply) throws IOException {
        if (reply.startsWith("ENTRY ")) {
            String[] words = reply.split(" ", 4);
            if (words.length < 4) {
                throw new IOException("malformed entry: " + reply);
            }
            lines.add(String.format("%s %15s  %s", words[1], words[2], words[3]));
        } else if (reply.startsWith("END ")) {
            if (reply.endsWith(" truncated")) {
                lines.add("(listing truncated at " + FilesProtocol.MAX_LISTING + " entries)");
            }
            succeed(c, lines);
        } else {
            throw new IOException("unexpected reply to LS: " + reply);
        }
    }
}
