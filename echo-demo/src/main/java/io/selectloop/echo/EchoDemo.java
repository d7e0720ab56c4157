package io.selectloop.echo;

import io.selectloop.echo.files.FilesCommand;
import java.util.Arrays;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code java -jar echo-demo.jar [server|client] [options]}: the server is the default,
 * so {@code java -jar echo-demo.jar --port 0} starts a server.
 */
@Command(name = "echo-demo", mixinStandardHelpOptions = true,
        description = "selectloop echo server and line client; 'files' is the file transfer program.",
        subcommands = {EchoServerCommand.class, EchoClientCommand.class,
                FilesCommand.class /* the file transfer program, io.selectloop.echo.files */})
public final class EchoDemo {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String... args) {
        String[] effective = args;
        if (args.length == 0 || (args[0].startsWith("-") && !isHelpOrVersion(args[0]))) {
            effective = new String[args.length + 1];
            effective[0] = "server";
            System.arraycopy(args, 0, effective, 1, args.length);
        }
        return new CommandLine(new EchoDemo()).execute(effective);
    }

    private static boolean isHelpOrVersion(String arg) {
        return Arrays.asList("-h", "--help", "-V", "--version").contains(arg);
    }
}
