// The `galvatron` command line: flags → ClientOptions → one command, run
// against the planner. Separate from main() so tests can run it in-process.
// Not thread-safe: one run at a time per process (CLI11 and the flags it
// fills live for one call).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace galvatron::cli {

// Runs `galvatron args...` (args[0] is the program name) and returns its exit
// code (cli_commands.h: 0 done, 1 a call failed, 2 bad usage, 3 / 4 a
// waited-for job failed / was cancelled). Results go to `out`, progress and
// errors to `err`. The planner address defaults to $GALVATRON_PLANNER.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace galvatron::cli
