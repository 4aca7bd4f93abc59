// The `dagrad` program: hosts the subcommands (tools/*_command.cpp). Failures print one line,
// "dagrad: error: ...", to stderr and exit with status 1; usage errors exit with CLI11's codes.
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "dagrad/graph/distributed.hpp"

int main(int argc, char** argv) {
  CLI::App app{"dagrad: build, inspect and run static deep-learning graphs", "dagrad"};
  app.require_subcommand(1);
  // Usage errors too are one line, in the same form as the others.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "dagrad: error: " + std::string(e.what()) + " (see dagrad --help)\n";
  });
  dagrad::tools::add_dot_command(app);
  dagrad::tools::add_ops_command(app);
  dagrad::tools::add_gradcheck_command(app);
  dagrad::tools::add_summary_command(app);
  dagrad::tools::add_train_command(app);
  dagrad::tools::add_evaluate_command(app);
  dagrad::tools::add_predict_command(app);
  dagrad::tools::add_lr_find_command(app);
  dagrad::tools::add_experiment_command(app);
  // A first word that names no command would otherwise be read as a stray argument, and the
  // user told only that a subcommand is required.
  if (argc > 1 && argv[1][0] != '-') {
    std::string first = argv[1], names;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      known = known || sub->get_name() == first;
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::cerr << "dagrad: error: unknown command '" << first << "' (commands: " << names
                << "; see dagrad --help)\n";
      return static_cast<int>(CLI::ExitCodes::ExtrasError);
    }
  }
  try {
    app.parse(argc, argv);  // runs the chosen subcommand's callback
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    // In an MPI job the other ranks would wait for this one in their next collective: end the
    // whole job (mpirun stops every rank and reports this one's exit).
    if (dagrad::distributed::initialized())
      dagrad::distributed::abort_job("dagrad: error (" + dagrad::distributed::describe() + "): " + message, 1);
    std::cerr << "dagrad: error: " << message << "\n";
    return 1;
  }
  dagrad::distributed::finalize();
  return 0;
}
