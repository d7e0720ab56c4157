package io.selectloop.echo.files;

import picocli.CommandLine.Command;

/**
 * {@code echo-demo files serve|ls|put|get}: a resumable file transfer server and its client,
 * the second program in the echo-demo jar. The wire protocol is {@code docs/FILES-PROTOCOL.md}.
 * There is deliberately no command to run anything on the server: a remote shell is a
 * security hole.
 */
@Command(name = "files", mixinStandardHelpOptions = true,
        description = "Resumable, SHA-256-verified file transfer: a server (serve) and its client (ls, put, get).",
        subcommands = {FilesServeCommand.class, FilesClientCommands.Ls.class, FilesClientCommands.Put.class,
                FilesClientCommands.Get.class})
public final class FilesCommand {
}
