// The qkv subcommands: each file of train/cli registers one, with its options and its action, on the app.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <utility>
#include <vector>

#include "train/comm.h"

namespace qkv::cli {

// Each add_<name> declares its subcommand's options and registers its action here; main runs the action of
// the subcommand the command line chose, after parsing. An action returns the process exit code; a
// qkv::Error from it is bad input (main turns it into one line on stderr and exit code 2).
struct Context {
  Comm& comm;  // the ranks of a data-parallel job (one process alone outside mpirun)
  std::vector<std::pair<CLI::App*, std::function<int()>>> actions;
  void on(CLI::App* command, std::function<int()> action) { actions.emplace_back(command, std::move(action)); }
};

void add_train(CLI::App& app, Context& ctx);
void add_sample(CLI::App& app, Context& ctx);
void add_translate(CLI::App& app, Context& ctx);
void add_classify(CLI::App& app, Context& ctx);
void add_eval(CLI::App& app, Context& ctx);
void add_init(CLI::App& app, Context& ctx);
void add_info(CLI::App& app, Context& ctx);
void add_export(CLI::App& app, Context& ctx);
void add_import(CLI::App& app, Context& ctx);
void add_logits(CLI::App& app, Context& ctx);
void add_step(CLI::App& app, Context& ctx);
void add_tokenizer(CLI::App& app, Context& ctx);
void add_prepare(CLI::App& app, Context& ctx);
void add_attention(CLI::App& app, Context& ctx);
void add_plot(CLI::App& app, Context& ctx);
void add_bench(CLI::App& app, Context& ctx);
void add_demo(CLI::App& app, Context& ctx);

}  // namespace qkv::cli
