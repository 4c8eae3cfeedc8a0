// galvatron: command-line client of the planner (cli_app.h).
#include <iostream>
#include <string>
#include <vector>

#include "common/main_guard.h"
#include "dashboard/cli/cli_app.h"

int main(int argc, char** argv) {
  return galvatron::RunGuardedMain("galvatron", [&] {
    return galvatron::cli::RunCli(std::vector<std::string>(argv, argv + argc), std::cout,
                                  std::cerr);
  });
}
