// `dagrad summary (--model NAME | FILE)`: Keras's summary table of a preset model or of a saved
// model file.
#include <iostream>
#include <memory>
#include <string>

#include "commands.hpp"
#include "dagrad/nn/errors.hpp"
#include "dagrad/nn/model.hpp"
#include "dagrad/nn/presets.hpp"

namespace dagrad::tools {

void add_summary_command(CLI::App& app) {
  struct Args {
    std::string preset;
    std::string file;
    int hidden_layers = 100;
  };
  auto args = std::make_shared<Args>();
  std::string presets;
  for (const auto& [name, what] : nn::preset_models()) presets += "\n  " + name + ": " + what;
  CLI::App* cmd = app.add_subcommand(
      "summary", "Print a model's layers, output shapes and parameter counts (Keras's table)");
  auto* model = cmd->add_option("--model", args->preset, "A preset model:" + presets);
  auto* file = cmd->add_option("file", args->file, "A model file written by save_model or dagrad train");
  model->excludes(file);
  file->excludes(model);
  cmd->add_option("--hidden-layers", args->hidden_layers,
                  "Hidden layers of the selu preset (300 units, then 100 each)")
      ->check(CLI::Range(1, 10000));
  cmd->callback([args] {
    std::unique_ptr<nn::Model> m;
    if (!args->file.empty()) {
      m = nn::load_model(args->file);
    } else if (!args->preset.empty()) {
      nn::PresetOptions options;
      options.hidden_layers = args->hidden_layers;
      m = nn::make_preset(args->preset, options);
    } else {
      throw nn::ModelError("summary: give --model NAME or a model FILE");
    }
    m->summary(std::cout);
  });
}

}  // namespace dagrad::tools
