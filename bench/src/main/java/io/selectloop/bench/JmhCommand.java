package io.selectloop.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * {@code bench jmh [JMH options] [benchmark regexps]}: runs the JMH microbenchmarks in
 * this jar (package {@code io.selectloop.bench.jmh}) with JMH's own command line, which
 * this command hands over untouched. JMH forks its benchmark JVMs with this JVM's class
 * path, the shaded bench.jar, so nothing else is needed on it.
 */
@Command(name = "jmh",
        description = {"Run the JMH microbenchmarks (FramingDecode, FramingEncode).",
                "Every argument goes to JMH unchanged: e.g. 'jmh FramingDecode -f 1 -wi 3 -w 2s -i 5 -r 2s',",
                "'jmh -l' to list, 'jmh -h' for JMH's options."})
final class JmhCommand implements Callable<Integer> {

    @Unmatched
    List<String> jmhArgs = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        // Returns when the run is over; exits the JVM with 1 itself on a bad option or no matching benchmark.
        org.openjdk.jmh.Main.main(jmhArgs.toArray(new String[0]));
        return 0;
    }
}
